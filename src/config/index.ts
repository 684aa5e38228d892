export { OPTIONS, envName, flagName, type Config, type OptionName } from './options.ts';
export { ConfigError, HELP_AREAS, helpAreaOf, helpText, parseConfig, parseDurationMs, redactConfig, type ParseResult } from './parse.ts';
