// TEMPORARY stub (branch sock) until the lead's src/features.ts lands on main: merge main
// and take main's version. Same signature; answers for the running 6.18 kernel.
export function isLinkTypeSupported(type: number): boolean {
  return type >= 1 && type <= 14;
}
