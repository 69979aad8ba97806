// What the untrusted demo's probes share: one line per attempt, then the verdict, decided by
// the attempts alone. Exit code 1 when anything got through.
export interface Attempt {
  readonly what: string
  readonly allowed: boolean
  readonly detail: string
}

export const report = (name: string, what: string, attempts: ReadonlyArray<Attempt>): void => {
  for (const a of attempts) console.log(`${a.allowed ? "ALLOWED" : "denied "} ${a.what} (${a.detail})`)
  const denied = attempts.length > 0 && attempts.every((a) => !a.allowed)
  console.log(denied ? `DENIED: ${what}` : `NOT DENIED: ${what} (${name}: see ALLOWED above)`)
  process.exitCode = denied ? 0 : 1
}
