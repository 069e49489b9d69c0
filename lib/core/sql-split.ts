// Cuts streamed SQL text at statement boundaries so a dump can be replayed a
// piece at a time. A ';' ends a statement only outside quotes and comments.
// (Trigger bodies, which hold ';' inside BEGIN…END, are never in our dumps.)
const enum State { Normal, Single, Double, Backtick, Bracket, Line, Block }

/** Feed it text as it arrives; it hands back whole statements. */
export class StatementSplitter {
  private pending = '';
  private state = State.Normal;
  private scanned = 0;

  /** Add text; returns the complete statements now available (possibly ''). */
  push(text: string): string {
    this.pending += text;
    let cut = -1;
    const pending = this.pending;
    let state = this.state;
    for (let i = this.scanned; i < pending.length; i++) {
      const code = pending.charCodeAt(i);
      switch (state) {
        case State.Normal:
          if (code === 59 /* ; */) cut = i + 1;
          else if (code === 39 /* ' */) state = State.Single;
          else if (code === 34 /* " */) state = State.Double;
          else if (code === 96 /* ` */) state = State.Backtick;
          else if (code === 91 /* [ */) state = State.Bracket;
          else if (code === 45 /* - */ && pending.charCodeAt(i + 1) === 45) { state = State.Line; i++; }
          else if (code === 47 /* / */ && pending.charCodeAt(i + 1) === 42) { state = State.Block; i++; }
          else if ((code === 45 || code === 47) && i + 1 === pending.length) { i--; this.stopAt(i + 1, state); return this.take(cut); }
          break;
        case State.Single: {
          const close = pending.indexOf("'", i);
          if (close < 0) { i = pending.length; break; }
          i = close;
          // '' is an escaped quote inside the literal
          if (pending.charCodeAt(i + 1) === 39) i++;
          else if (i + 1 === pending.length) { this.stopAt(i, State.Single); return this.take(cut); }
          else state = State.Normal;
          break;
        }
        case State.Double:
          if (code === 34) state = State.Normal;
          break;
        case State.Backtick:
          if (code === 96) state = State.Normal;
          break;
        case State.Bracket:
          if (code === 93) state = State.Normal;
          break;
        case State.Line:
          if (code === 10) state = State.Normal;
          break;
        case State.Block:
          if (code === 42 && pending.charCodeAt(i + 1) === 47) { state = State.Normal; i++; }
          else if (code === 42 && i + 1 === pending.length) { this.stopAt(i, State.Block); return this.take(cut); }
          break;
      }
    }
    this.stopAt(pending.length, state);
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
