// A JavaScript heap hog: objects the collector can never free, 1 MiB of them every few ms.
const keep: Array<Array<string>> = []
for (let i = 0; ; i++) {
  keep.push(Array.from({ length: 16 * 1024 }, (_, j) => `${i}:${j}:${"x".repeat(32)}`))
  if (i % 16 === 0) console.log(`heap-hog: ${keep.length} chunks`)
  await new Promise((resolve) => setTimeout(resolve, 1))
}
