// TensorFlow's Event and Summary messages (tensorflow/core/util/event.proto,
// tensorflow/core/framework/summary.proto, tensor.proto), declared with protobufjs from a
// .proto text parsed once at load. Field numbers follow TensorFlow's files; fields this
// project never writes or reads are left out (protobuf skips unknown fields when decoding).
import * as protobuf from 'protobufjs';

// proto3, as TensorFlow's files: repeated scalars (histogram buckets) are packed.
const SCHEMA = `
syntax = "proto3";
message HistogramProto {
  double min = 1; double max = 2; double num = 3; double sum = 4; double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true]; repeated double bucket = 7 [packed = true];
}
message TensorShapeProto { message Dim { int64 size = 1; string name = 2; } repeated Dim dim = 2; bool unknown_rank = 3; }
message TensorProto {
  int32 dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true]; repeated double double_val = 6 [packed = true];
}
message Image { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
message PluginData { string plugin_name = 1; bytes content = 2; }
message SummaryMetadata { PluginData plugin_data = 1; string display_name = 2; string summary_description = 3; }
message Value {
  string node_name = 7; string tag = 1; SummaryMetadata metadata = 9;
  oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; Image image = 4; HistogramProto histo = 5; TensorProto tensor = 8; }
}
message Summary { repeated Value value = 1; }
message SessionLog { int32 status = 1; string checkpoint_path = 2; string msg = 3; }
message Event {
  double wall_time = 1; int64 step = 2;
  oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; SessionLog session_log = 7; }
}
`;
// resolveAll() applies proto3 defaults (packed encoding) before the first encode.
const root = protobuf.parse(SCHEMA, { keepCase: false }).root.resolveAll();
const EventType = root.lookupType('Event');

/** SessionLog.SessionStatus (event.proto). */
export const SessionStatus = { START: 1, STOP: 2, CHECKPOINT: 3 } as const;

/** A HistogramProto (summary.proto): statistics and buckets of the values. */
export interface HistogramValue {
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Number of values. */
  num: number;
  /** Sum of the values. */
  sum: number;
  /** Sum of their squares. */
  sumSquares: number;
  /** Right edge of each bucket; bucket i spans [bucketLimit[i-1], bucketLimit[i]) (-DBL_MAX for i = 0). */
  bucketLimit: number[];
  /** Count of values in each bucket. */
  bucket: number[];
}

/** Summary.Image (summary.proto): one encoded image. */
export interface ImageValue {
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  colorspace: number;
  /** PNG bytes. */
  encodedImageString: Uint8Array;
}

/** A scalar written TF2-style, as a rank-0 tensor (float or double) — read, never written. */
export interface TensorValue {
  dtype: number;
  tensorContent?: Uint8Array;
  floatVal?: number[];
  doubleVal?: number[];
}

/** Summary.Value (summary.proto): one tagged value; exactly one of its payloads is set. */
export interface SummaryValue {
  /** The summary's name (TensorBoard groups charts by it). */
  tag: string;
  /** A scalar (summary.scalar). */
  simpleValue?: number;
  /** An image (summary.image). */
  image?: ImageValue;
  /** A histogram (summary.histogram). */
  histo?: HistogramValue;
  /** A TF2-style tensor value (read only). */
  tensor?: TensorValue;
  /** Which TensorBoard plugin reads the value. */
  metadata?: { pluginData?: { pluginName?: string } };
}

/** SessionLog (event.proto): START when a run begins (TensorBoard purges orphaned later steps), STOP, CHECKPOINT. */
export interface SessionLogValue {
  /** A SessionStatus: 1 START, 2 STOP, 3 CHECKPOINT. */
  status: number;
  /** The checkpoint, for CHECKPOINT. */
  checkpointPath?: string;
  /** A free-form message. */
  msg?: string;
}

/** An Event (event.proto), one record of an event file: a wall time, a step and one payload. */
export interface TfEvent {
  /** Seconds since the epoch. */
  wallTime: number;
  /** The global step it belongs to. */
  step: number;
  /** Only in a file's first event: 'brain.Event:2'. */
  fileVersion?: string;
  /** A serialised GraphDef (graph-def.ts): what TensorBoard's Graphs tab draws. */
  graphDef?: Uint8Array;
  /** Summary values written at this step. */
  summary?: { value: SummaryValue[] };
  /** A session start/stop/checkpoint marker. */
  sessionLog?: SessionLogValue;
}

export function encodeEvent(e: TfEvent): Uint8Array {
  return EventType.encode(EventType.fromObject(e)).finish();
}

/** Decodes one Event; proto3 leaves zero-valued fields out, so wallTime and step default to 0. */
export function decodeEvent(bytes: Uint8Array): TfEvent {
  const msg = EventType.decode(bytes);
  const o = EventType.toObject(msg, {
    longs: Number,
    bytes: Uint8Array as unknown as typeof Buffer,
    defaults: false,
    oneofs: false,
  }) as Partial<TfEvent>;
  const e: TfEvent = { ...o, wallTime: o.wallTime ?? 0, step: o.step ?? 0 };
  if (e.summary) e.summary = { value: (e.summary.value ?? []).map((v) => ({ ...v, tag: v.tag ?? '' })) };
  if (e.sessionLog) e.sessionLog = { ...e.sessionLog, status: e.sessionLog.status ?? 0 };
  return e;
}
