/**
 * PID 1: the root supervisor every kernel starts (DESIGN.md, "Actors"). Its spec lives in
 * src/supervision/Init.ts, which the daemon imports without reaching out of src/.
 */
export { init } from "../src/supervision/Init.ts"
