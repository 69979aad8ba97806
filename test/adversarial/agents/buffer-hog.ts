// A Buffer hog: memory outside the V8 heap, filled (so the pages are real), 4 MiB every 2 ms.
const keep: Array<Buffer> = []
for (let mib = 4; ; mib += 4) {
  keep.push(Buffer.alloc(4 * 1024 * 1024, mib & 0xff))
  if (mib % 64 === 0) console.log(`buffer-hog: ${mib} MiB`)
  await new Promise((resolve) => setTimeout(resolve, 2))
}
