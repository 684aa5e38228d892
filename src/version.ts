/** Reported in serverHello and /status; kept in step with package.json by a test. */
export const VERSION = '0.1.0';
