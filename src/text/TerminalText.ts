/**
 * An agent's line made safe to print on a terminal. Agents are untrusted: a line with escape
 * sequences could move the cursor, rewrite what was printed before it, retitle the window or
 * reach terminal features a user never meant to give an agent. Colours (SGR, `ESC [ … m`) are
 * kept, as `less -R` keeps them, and reset at the end of the line so one cannot bleed into the
 * next; every other control character is shown in caret notation (`^[`, `^G`, `^?`) or, for the
 * C1 range, as `\x9b`. Tabs stay. `agentos boot`, `agentos logs` and the log files print lines
 * through it.
 */

/** SGR only: parameters of digits and `;`, final `m`. */
const SGR = /^\x1b\[[0-9;]*m/

const caret = (code: number): string => (code === 0x7f ? "^?" : `^${String.fromCharCode(code + 0x40)}`)

/** The line with only colours kept and every other control character made visible. @category constructors */
export const printable = (line: string): string => {
  // The common case, a line of plain text, costs one scan.
  if (!/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(line)) return line
  let out = ""
  let coloured = false
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i)
    if (code === 0x1b) {
      const sgr = SGR.exec(line.slice(i, i + 64))
      if (sgr !== null) {
        out += sgr[0]
        coloured = true
        i += sgr[0].length - 1
        continue
      }
    }
    if (code === 0x09 || (code >= 0x20 && code < 0x7f) || code > 0x9f) out += line[i]
    else if (code < 0x20 || code === 0x7f) out += caret(code)
    else out += `\\x${code.toString(16)}`
  }
  return coloured ? `${out}\x1b[0m` : out
}
