// Spins for 2 s of wall-clock time, then reports the CPU it got and exits.
const start = Date.now()
const cpu = process.cpuUsage()
let x = 0
while (Date.now() - start < 2000) x = (x + 1) % 1_000_003
const used = process.cpuUsage(cpu)
console.log(`REPORT ${JSON.stringify({ wallMs: Date.now() - start, cpuMs: (used.user + used.system) / 1000, x })}`)
