/**
 * A schema's verdict as problems, each with its path, written one way wherever input is checked
 * (a syscall's args, a supervision tree): `children[2].sandbox.memory: expected a size`, as OTP's
 * check_childspecs and vitest's config errors do. Imports nothing of AgentOS.
 */
import { SchemaIssue } from "effect"

/** Where in the input: keys and array indices. @category models */
export type Path = ReadonlyArray<PropertyKey>

/** One thing wrong with an input. @category models */
export interface Problem {
  readonly path: Path
  readonly message: string
}

/** `children[2].sandbox.memory`: dotted names, arrays indexed, other keys quoted. @category constructors */
export const formatPath = (path: Path): string =>
  path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`
    const name = String(key)
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) return `${out}[${JSON.stringify(name)}]`
    return out === "" ? name : `${out}.${name}`
  }, "")

/** A problem as one line, path first: `restart: expected "permanent" | …`; an excess key is `unexpected key`. @category constructors */
export const line = (problem: Problem): string => {
  const message = problem.message === "Expected no excess property"
    ? "unexpected key"
    : problem.message.charAt(0).toLowerCase() + problem.message.slice(1)
  return problem.path.length === 0 ? message : `${formatPath(problem.path)}: ${message}`
}

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Every problem a schema issue holds, in the schema's order. @category constructors */
export const problemsOf = (issue: SchemaIssue.Issue): Array<Problem> =>
  standard(issue).issues.map((i) => ({ path: (i.path ?? []).map((s) => (typeof s === "object" ? s.key : s)), message: i.message }))

/** Every problem of a schema issue, one line each, joined by "; ". @category constructors */
export const describe = (issue: SchemaIssue.Issue): string => problemsOf(issue).map(line).join("; ")
