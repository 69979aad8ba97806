/** The package version (kept equal to package.json's by a test) and the protocol version. */

/** AgentOS's version. */
export const VERSION = "0.1.0"

/** The protocol version a client states in HELLO; bumped only by incompatible changes. */
export const PROTOCOL_VERSION = 1
