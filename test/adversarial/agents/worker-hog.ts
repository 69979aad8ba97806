// A thread hog: Worker after Worker, each a V8 isolate that reserves its own code range and
// heap. Under a data limit (RLIMIT_DATA) V8 fails to reserve one and ends the process itself
// ("# Fatal process out of memory: Failed to reserve virtual memory for CodeRange", SIGTRAP);
// under a memory cgroup the workers' arrays fill it.
import { Worker } from "node:worker_threads"

const workers: Array<Worker> = []
for (let i = 1; ; i++) {
  workers.push(new Worker("const a = []; for (let j = 0; j < 40; j++) a.push(new Array(100000).fill(j)); setInterval(() => a.length, 1000)", { eval: true }))
  if (i % 8 === 0) console.log(`worker-hog: ${i} workers`)
  await new Promise((resolve) => setTimeout(resolve, 20))
}
