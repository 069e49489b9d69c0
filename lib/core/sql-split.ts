// Cuts streamed SQL text at statement boundaries so a dump can be replayed a
// piece at a time. A ';' ends a statement only outside quotes and comments.
// (Trigger bodies, which hold ';' inside BEGIN…END, are never in our dumps.)
const enum State { Normal, Single, Double, Backtick, Bracket, Line, Block }

export class StatementSplitter {
  private pending = '';
  private state = State.Normal;
  private scanned = 0;

  /** Add text; returns the complete statements now available (possibly ''). */
  push(text: string): string {
    this.pending += text;
    let cut = -1;
    const s = this.pending;
    let state = this.state;
    for (let i = this.scanned; i < s.length; i++) {
      const c = s.charCodeAt(i);
      switch (state) {
        case State.Normal:
          if (c === 59 /* ; */) cut = i + 1;
          else if (c === 39 /* ' */) state = State.Single;
          else if (c === 34 /* " */) state = State.Double;
          else if (c === 96 /* ` */) state = State.Backtick;
          else if (c === 91 /* [ */) state = State.Bracket;
          else if (c === 45 /* - */ && s.charCodeAt(i + 1) === 45) { state = State.Line; i++; }
          else if (c === 47 /* / */ && s.charCodeAt(i + 1) === 42) { state = State.Block; i++; }
          else if ((c === 45 || c === 47) && i + 1 === s.length) { i--; this.stopAt(i + 1, state); return this.take(cut); }
          break;
        case State.Single: {
          const j = s.indexOf("'", i);
          if (j < 0) { i = s.length; break; }
          i = j;
          // '' is an escaped quote inside the literal
          if (s.charCodeAt(i + 1) === 39) i++;
          else if (i + 1 === s.length) { this.stopAt(i, State.Single); return this.take(cut); }
          else state = State.Normal;
          break;
        }
        case State.Double:
          if (c === 34) state = State.Normal;
          break;
        case State.Backtick:
          if (c === 96) state = State.Normal;
          break;
        case State.Bracket:
          if (c === 93) state = State.Normal;
          break;
        case State.Line:
          if (c === 10) state = State.Normal;
          break;
        case State.Block:
          if (c === 42 && s.charCodeAt(i + 1) === 47) { state = State.Normal; i++; }
          else if (c === 42 && i + 1 === s.length) { this.stopAt(i, State.Block); return this.take(cut); }
          break;
      }
    }
    this.stopAt(s.length, state);
    return this.take(cut);
  }

  /** Whatever is left once the input has ended: non-blank means an unterminated statement. */
  rest(): string {
    return this.pending;
  }

  private stopAt(index: number, state: State) {
    this.scanned = index;
    this.state = state;
  }

  private take(cut: number): string {
    if (cut < 0) return '';
    const done = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    this.scanned -= cut;
    return done;
  }
}
