import {
  DecodeError,
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntries,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntries,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
  encodedEntrySize,
} from './codec';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  Message,
  MessageType,
  newEntry,
  newMessage,
  entrySize,
} from './types';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const txt = (s: string) => new TextEncoder().encode(s);

// Golden vectors derived by hand from raft.proto's field numbers:
// key = (field << 3) | wireType; wire type 0 = varint, 2 = length-delimited.
describe('golden bytes (raftpb field numbers)', () => {
  test('HardState{term=1, vote=2, commit=3}: fields 1,2,3 as varints', () => {
    expect(hex(encodeHardState({ term: 1, vote: 2, commit: 3 }))).toBe('080110021803');
  });

  test('Entry{Type=Normal, Term=2, Index=3, Data="hi"}: fields 1,2,3 varint, 4 bytes', () => {
    expect(hex(encodeEntry(newEntry({ term: 2, index: 3, data: txt('hi') })))).toBe('08001002180322026869');
  });

  test('Entry without data omits field 4; multi-byte varints', () => {
    expect(hex(encodeEntry(newEntry({ type: EntryType.EntryConfChange, term: 300, index: 2 ** 40 })))).toBe(
      '0801' + '10ac02' + '18' + '808080808020',
    );
  });

  test('Message MsgApp with one entry', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      to: 2,
      from: 1,
      term: 5,
      logTerm: 4,
      index: 10,
      entries: [newEntry({ term: 5, index: 11, data: txt('x') })],
      commit: 9,
    });
    expect(hex(encodeMessage(m))).toBe(
      '0803' + '1002' + '1801' + '2005' + '2804' + '300a' + '3a09' + '08001005180b220178' + '4009' + '5000' + '5800',
    );
  });

  test('Message with context (field 12) and reject (field 10)', () => {
    const m = newMessage({ type: MessageType.MsgHeartbeatResp, to: 1, from: 3, term: 2, reject: true, rejectHint: 7, context: txt('c') });
    expect(hex(encodeMessage(m))).toBe('0809' + '1001' + '1803' + '2002' + '2800' + '3000' + '4000' + '5001' + '5807' + '620163');
  });

  test('ConfState: repeated uint64 unpacked (proto2), auto_leave field 5', () => {
    expect(hex(encodeConfState({ voters: [1, 2], learners: [3], votersOutgoing: [], learnersNext: [], autoLeave: false }))).toBe(
      '0801080210032800',
    );
  });

  test('Snapshot{data, metadata{conf_state, index, term}}', () => {
    const s = { data: txt('s'), metadata: { index: 7, term: 2, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } };
    expect(hex(encodeSnapshot(s))).toBe('0a0173' + '120a' + '0a0408012800' + '1007' + '1802');
  });

  test('ConfChange{id=1 (field 1), type (2), node_id (3), context (4)}', () => {
    expect(hex(encodeConfChange({ id: 1, type: ConfChangeType.ConfChangeRemoveNode, nodeId: 4, context: txt('z') }))).toBe('0801' + '1001' + '1804' + '22017a');
  });

  test('ConfChangeV2{transition (1), changes (2: {type 1, node_id 2}), context (3)}', () => {
    expect(
      hex(encodeConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionJointExplicit, changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 }] })),
    ).toBe('0802' + '12040803' + '1003');
  });
});

describe('decoding', () => {
  test('round trips', () => {
    const ents = [
      newEntry({ term: 1, index: 1 }),
      newEntry({ term: 2 ** 52, index: Number.MAX_SAFE_INTEGER, type: EntryType.EntryConfChangeV2, data: txt('abc') }),
    ];
    for (const e of ents) expect(decodeEntry(encodeEntry(e))).toEqual(e);
    expect(decodeEntries(encodeEntries(ents))).toEqual(ents);
    expect(decodeEntries(encodeEntries([]))).toEqual([]);
    for (const e of ents) expect(encodedEntrySize(e)).toBe(encodeEntry(e).length);
    for (const e of ents) expect(entrySize(e)).toBe(encodeEntry(e).length);

    const snap = {
      data: txt('state'),
      metadata: { index: 42, term: 7, confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [1, 2, 5], learnersNext: [5], autoLeave: true } },
    };
    expect(decodeSnapshot(encodeSnapshot(snap))).toEqual(snap);
    expect(decodeConfState(encodeConfState(snap.metadata.confState))).toEqual(snap.metadata.confState);

    const msgs: Message[] = [
      newMessage({ type: MessageType.MsgApp, to: 2, from: 1, term: 3, logTerm: 2, index: 9, commit: 8, entries: ents }),
      newMessage({ type: MessageType.MsgSnap, to: 3, from: 1, term: 9, snapshot: snap }),
      newMessage({ type: MessageType.MsgAppResp, to: 1, from: 3, term: 9, index: 5, reject: true, rejectHint: 4, logTerm: 2 }),
      newMessage({ type: MessageType.MsgHeartbeat, to: 1, from: 3, term: 9, context: txt('ctx') }),
      newMessage({ type: MessageType.MsgPreVoteResp, to: 1, from: 3, term: 9 }),
    ];
    for (const m of msgs) expect(decodeMessage(encodeMessage(m))).toEqual(m);

    const hs = { term: 5, vote: 3, commit: 100000 };
    expect(decodeHardState(encodeHardState(hs))).toEqual(hs);
    const cc = { id: 77, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 9, context: txt('ctx') };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    const cc2 = {
      transition: ConfChangeTransition.ConfChangeTransitionJointImplicit,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 4 },
        { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1 },
      ],
      context: txt('x'),
    };
    expect(decodeConfChangeV2(encodeConfChangeV2(cc2))).toEqual(cc2);
  });

  test('accepts packed repeated fields and skips unknown fields (Message.vote=13, responses=14, fixed32/64)', () => {
    expect(decodeConfState(unhex('0a03010203 2801')).voters).toEqual([1, 2, 3]);
    const m = decodeMessage(unhex('0803 1002 1801 6805 7202 0800 7d01020304 790102030405060708 2007'));
    expect(m.type).toBe(MessageType.MsgApp);
    expect(m.to).toBe(2);
    expect(m.from).toBe(1);
    expect(m.term).toBe(7);
  });

  test('an empty snapshot on a non-snapshot message (older peers) decodes as absent', () => {
    const m = decodeMessage(unhex('0808 4a04 1202 0a00'));
    expect(m.snapshot).toBeUndefined();
  });

  test('decoded bytes are copies unless asked otherwise', () => {
    const buf = encodeEntry(newEntry({ term: 1, index: 1, data: txt('abc') }));
    const copied = decodeEntry(buf);
    const view = decodeEntry(buf, { copy: false });
    buf[buf.length - 1] = 'z'.charCodeAt(0);
    expect(new TextDecoder().decode(copied.data)).toBe('abc');
    expect(new TextDecoder().decode(view.data)).toBe('abz');
  });

  test('rejects truncated and malformed input', () => {
    const good = encodeMessage(newMessage({ type: MessageType.MsgApp, to: 2, from: 1, entries: [newEntry({ data: txt('hello') })], context: txt('ctx') }));
    const full = decodeMessage(good);
    let errors = 0;
    for (let cut = 1; cut < good.length; cut++) {
      try {
        // a cut exactly between two fields is a valid, shorter message: never the full one
        expect(decodeMessage(good.subarray(0, cut))).not.toEqual(full);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(5);
    expect(() => decodeHardState(unhex('08'))).toThrow(DecodeError);
    expect(() => decodeEntry(unhex('2205 6869'))).toThrow(DecodeError);
    expect(() => decodeEntry(unhex('0a00'))).toThrow('bad wire type');
    // 2^63: beyond safe integers
    expect(() => decodeHardState(unhex('08 80808080808080808001'))).toThrow('exceeds 2^53-1');
    expect(() => encodeHardState({ term: -1, vote: 0, commit: 0 })).toThrow(RangeError);
    expect(() => encodeHardState({ term: 1.5, vote: 0, commit: 0 })).toThrow(RangeError);
  });
});
