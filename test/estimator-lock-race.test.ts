// Several processes calling train() on one modelDir at the same instant: exactly one trains,
// the others get the usual "being trained by another process" error, in every round, with or
// without a stale lock (left by a dead process) to take over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { tmpDir } from './helpers/tmp';

const CHILD = path.join(__dirname, 'fixtures', 'lock-race-child.js');
const CONTENDERS = 4;
const ROUNDS = 8;

class Contender {
  readonly proc: ChildProcess;
  private lines: string[] = [];
  private waiter?: () => void;
  constructor() {
    this.proc = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.waiter?.();
    });
  }
  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }
  /** The next line, within ms. */
  async next(ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error('a contender did not answer in time');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
    }
    return this.lines.shift()!;
  }
}

test('temporary lock files of a process killed while locking are removed by the next trainer', async () => {
  const dir = tmpDir('lock-tmp-');
  const deadPid = spawnSync('true').pid!;
  const left = [`.train.lock.${deadPid}-00ff.tmp`, `.train.lock.takeover.${deadPid}-00ff.dead`];
  for (const n of left) fs.writeFileSync(path.join(dir, n), '{}');
  const c = new Contender();
  try {
    assert.equal(await c.next(), 'ready');
    c.send(`go ${dir} ${Date.now()}`);
    assert.equal(await c.next(), 'training');
    c.send('finish');
    assert.equal(await c.next(), 'done');
  } finally {
    c.proc.kill('SIGKILL');
  }
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.train.lock')),
    [],
  );
});

test(
  'of several processes calling train() on one modelDir at one instant, exactly one trains (8 rounds, half with a stale lock)',
  { timeout: 240_000 },
  async () => {
    const contenders = Array.from({ length: CONTENDERS }, () => new Contender());
    try {
      for (const c of contenders) assert.equal(await c.next(), 'ready');
      const deadPid = spawnSync('true').pid!;
      for (let round = 0; round < ROUNDS; round++) {
        const dir = tmpDir('race-');
        if (round % 2 === 1) {
          // A lock whose process is gone: every contender sees it as stale at the same time.
          fs.writeFileSync(path.join(dir, '.train.lock'), JSON.stringify({ pid: deadPid, host: os.hostname(), since: Date.now() - 1000 }));
        }
        const t0 = Date.now() + 300;
        for (const c of contenders) c.send(`go ${dir} ${t0}`);
        const answers = await Promise.all(contenders.map((c) => c.next()));
        const errors = answers.filter((a) => a.startsWith('error'));
        assert.deepEqual(errors, [], `round ${round}`);
        const trainers = contenders.filter((_, i) => answers[i] === 'training');
        assert.equal(trainers.length, 1, `round ${round}: ${answers.join(', ')}`);
        for (const c of trainers) c.send('finish');
        for (const c of trainers) assert.equal(await c.next(), 'done');
        assert.ok(!fs.existsSync(path.join(dir, '.train.lock')), 'the lock is released');
        assert.deepEqual(
          fs.readdirSync(dir).filter((n) => n.startsWith('.train.lock')),
          [],
          'no temporary lock files left',
        );
      }
    } finally {
      for (const c of contenders) c.proc.kill('SIGKILL');
    }
  },
);
