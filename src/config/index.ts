export { OPTIONS, envName, flagName, type Config, type OptionName } from './options.ts';
export { ConfigError, helpText, parseConfig, parseDurationMs, redactConfig, type ParseResult } from './parse.ts';
