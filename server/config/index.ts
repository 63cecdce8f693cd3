// Public surface of the configuration layer; callers import from here, not from the files behind it.

export type { GatewayConfig } from './gateways-schema.js';
export {
  ConfigError,
  type ConfigProblem,
  defaultConfig,
  formatPath,
  formatProblem,
  type LoadConfigOptions,
  loadConfig,
} from './loader.js';
export type { S2sConfig, S2sListenerConfig, S2sRouteConfig } from './s2s-schema.js';
export {
  type AuthConfig,
  type C2sListenerConfig,
  type CertPairConfig,
  type ComponentConfig,
  type ComponentListenerConfig,
  type Config,
  ConfigSchema,
  type HostConfig,
  type HttpListenerConfig,
  LISTENER_SCHEMAS,
  type LimitsConfig,
  type ListenerConfig,
  type ListenerType,
  LOG_LEVELS,
  type LogConfig,
  type LogLevel,
  type ModuleSchemas,
  SASL_MECHANISMS,
  type SaslMechanismName,
  STORAGE_SCHEMAS,
  type StorageConfig,
  type StorageDriver,
  type TlsConfig,
} from './schema.js';
