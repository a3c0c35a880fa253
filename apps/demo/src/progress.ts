/**
 * A one-line live progress bar on a terminal; on anything else (CI logs, a pipe) a line at
 * 25 %, 50 %, 75 % and done, so logs stay short.
 */
const WIDTH = 28;

export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #started = performance.now();
  readonly #tty = process.stdout.isTTY;
  #count = 0;
  #lastDraw = 0;
  #lastQuarter = 0;

  /**
   * @param label - what is counted
   * @param total - the count at 100 %
   */
  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = Math.max(1, total);
  }

  /** @param n - how many more are done */
  tick(n = 1): void {
    this.#count += n;
    if (this.#tty) {
      const now = performance.now();
      if (now - this.#lastDraw >= 80 || this.#count >= this.#total) {
        this.#lastDraw = now;
        process.stdout.write(`\r${this.#line()}`);
      }
      return;
    }
    const quarter = Math.floor((this.#count / this.#total) * 4);
    if (quarter > this.#lastQuarter && quarter < 4) {
      this.#lastQuarter = quarter;
      console.log(this.#line());
    }
  }

  /** Ends the bar with its final state. */
  done(): void {
    if (this.#tty) process.stdout.write(`\r${this.#line()}\n`);
    else console.log(this.#line());
  }

  #line(): string {
    const share = Math.min(1, this.#count / this.#total);
    const filled = Math.round(share * WIDTH);
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    return `${this.#label} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${this.#count.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')} ${seconds} s`;
  }
}
