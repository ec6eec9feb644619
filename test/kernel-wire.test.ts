// The wire checks of issue 18 (items 8, 10, 11) without a kernel: replayed signatures, a
// bounded digest history, nesting limits, and the message size setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, newHeader, Signer, WireError, MAX_HEADER_DEPTH } from '../src/kernel/protocol/wire';
import { DigestHistory } from '../src/kernel/protocol/digest-history';
import { DEFAULT_MAX_MESSAGE_BYTES, maxMessageBytes } from '../src/kernel/protocol/limits';

const signer = new Signer('a-test-key');
const message = (extra: Record<string, unknown> = {}): Buffer[] =>
  encode(
    { identities: [], header: { ...newHeader('kernel_info_request', 's'), ...extra }, parent_header: {}, metadata: {}, content: {} },
    signer,
  );

test('a signature seen before is refused as a replay; without a key nothing is recorded', () => {
  const history = new DigestHistory();
  const frames = message();
  assert.equal(decode(frames, signer, history).header.msg_type, 'kernel_info_request');
  assert.throws(
    () => decode(frames, signer, history),
    (e: Error) => e instanceof WireError && /replayed/.test(e.message),
  );
  assert.equal(decode(message(), signer, history).header.msg_type, 'kernel_info_request', 'a new message is accepted');
  const unsigned = new Signer('');
  const plain = encode({ identities: [], header: newHeader('x', 's'), parent_header: {}, metadata: {}, content: {} }, unsigned);
  decode(plain, unsigned, history);
  decode(plain, unsigned, history);
  assert.equal(history.size, 2);
});

test('the digest history is bounded: past its capacity the oldest signatures are forgotten', () => {
  const history = new DigestHistory(100);
  for (let i = 0; i < 250; i++) assert.equal(history.add(`sig-${i}`), true);
  assert.equal(history.size, 100);
  assert.equal(history.has('sig-149'), false);
  assert.equal(history.has('sig-150'), true);
  assert.equal(history.add('sig-249'), false);
});

test('a header nested deeper than the limit is refused; the limit itself passes; content may nest deeper', () => {
  const nest = (n: number): unknown => (n === 0 ? 1 : { a: nest(n - 1) });
  assert.doesNotThrow(() => decode(message({ x: nest(MAX_HEADER_DEPTH - 1) }), signer));
  // Written as text: JSON.stringify itself overflows on such a value.
  const header = Buffer.from(
    JSON.stringify(newHeader('kernel_info_request', 's')).slice(0, -1) + ',"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
  );
  const parts = [header, Buffer.from('{}'), Buffer.from('{}'), Buffer.from('{}')];
  assert.throws(() => decode([Buffer.from('<IDS|MSG>'), Buffer.from(signer.sign(parts)), ...parts], signer), /header is nested more than/);
  const deepContent = encode(
    {
      identities: [],
      header: newHeader('comm_msg', 's'),
      parent_header: {},
      metadata: {},
      content: { x: nest(200) } as Record<string, unknown>,
    },
    signer,
  );
  assert.doesNotThrow(() => decode(deepContent, signer));
});

test('TFJS_ESTIMATOR_MAX_MESSAGE_BYTES sets the frame limit; a bad value is an error that names it', () => {
  assert.equal(maxMessageBytes({}), DEFAULT_MAX_MESSAGE_BYTES);
  assert.equal(maxMessageBytes({ TFJS_ESTIMATOR_MAX_MESSAGE_BYTES: '1048576' }), 1048576);
  for (const bad of ['lots', '-1', '1.5', '100']) {
    assert.throws(() => maxMessageBytes({ TFJS_ESTIMATOR_MAX_MESSAGE_BYTES: bad }), /TFJS_ESTIMATOR_MAX_MESSAGE_BYTES/);
  }
});
