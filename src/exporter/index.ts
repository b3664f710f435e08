// The Prometheus exporter: maps of a loaded object as metrics on a prom-client registry.
export { exportMetrics, MetricsExporter } from './export.js';
export {
  checkExporterConfig,
  ExporterConfigError,
  loadExporterConfig,
  parseExporterConfig,
  type BucketConfig,
  type CounterConfig,
  type ExporterConfig,
  type ExporterConfigErrorKind,
  type GaugeConfig,
  type HistogramConfig,
  type LabelConfig,
  type MetricBaseConfig,
  type MetricConfig,
} from './config.js';
