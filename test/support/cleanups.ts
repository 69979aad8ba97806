/**
 * Test support: what a test started (kernels, connections, processes, directories), undone
 * after it, newest first, whether it passed or failed.
 */
import { afterEach } from "vitest"

/** A list to push undo steps on; emptied after each test of the file that calls this. */
export const perTest = (): Array<() => unknown> => {
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!()
  })
  return cleanups
}
