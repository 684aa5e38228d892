/** Sent in the hello as clientVersion; kept equal to package.json's version by a test. */
export const CLIENT_VERSION = '0.1.0';
