import { describe, expect, it } from "vitest"
import * as UidRange from "../../src/sandbox/UidRange.ts"

describe("UidRange.parseSubordinate", () => {
  it("reads user:first:count lines, skipping comments and malformed ones", () => {
    expect(UidRange.parseSubordinate("alice:100000:65536\n# a comment\n\nbob:165536:65536\nbad:x:1\n1003:231072:10\n")).toEqual([
      { owner: "alice", first: 100000, count: 65536 },
      { owner: "bob", first: 165536, count: 65536 },
      { owner: "1003", first: 231072, count: 10 }
    ])
  })
})

describe("UidRange.chooseRange", () => {
  const alice = { owner: "alice", first: 100000, count: 65536 }
  it("keeps a range no user's subordinate ids overlap", () => {
    expect(UidRange.chooseRange({ first: 2_000_000_000, last: 2_000_065_535 }, [alice], false)).toEqual({ first: 2_000_000_000, last: 2_000_065_535 })
  })
  it("moves the default past every overlapping range", () => {
    const bob = { owner: "bob", first: 165536, count: 65536 }
    expect(UidRange.chooseRange({ first: 100000, last: 165535 }, [alice, bob], false)).toEqual({ first: 231072, last: 296607 })
  })
  it("refuses a configured range that overlaps another user's, naming the owner", () => {
    expect(UidRange.chooseRange({ first: 160000, last: 170000 }, [alice], true)).toMatch(/overlaps alice's subordinate ids 100000–165535/)
  })
  it("allocates distinct uids and reuses a released one", () => {
    const pool = new UidRange.UidRange(10, 12, 10)
    expect([pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([10, 11, 12, undefined])
    pool.release(11)
    expect(pool.allocate()).toBe(11)
  })
})
