// TensorFlow's Event and Summary messages (tensorflow/core/util/event.proto and
// tensorflow/core/framework/summary.proto), declared with protobufjs's reflection API. Field
// numbers follow the .proto files; fields this project never writes are left out.
import * as protobuf from 'protobufjs';

// proto3, as TensorFlow's files: repeated scalars (histogram buckets) are packed.
const SCHEMA = `
syntax = "proto3";
message HistogramProto {
  double min = 1; double max = 2; double num = 3; double sum = 4; double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true]; repeated double bucket = 7 [packed = true];
}
message Image { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
message PluginData { string plugin_name = 1; bytes content = 2; }
message SummaryMetadata { PluginData plugin_data = 1; string display_name = 2; string summary_description = 3; }
message Value {
  string node_name = 7; string tag = 1; SummaryMetadata metadata = 9;
  oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; Image image = 4; HistogramProto histo = 5; }
}
message Summary { repeated Value value = 1; }
message Event {
  double wall_time = 1; int64 step = 2;
  oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; }
}
`;
// resolveAll() applies proto3 defaults (packed encoding) before the first encode.
const root = protobuf.parse(SCHEMA, { keepCase: false }).root.resolveAll();

export const EventType = root.lookupType('Event');

export interface HistogramValue {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

export interface ImageValue {
  height: number;
  width: number;
  colorspace: number;
  encodedImageString: Uint8Array;
}

export interface SummaryValue {
  tag: string;
  simpleValue?: number;
  image?: ImageValue;
  histo?: HistogramValue;
}

export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: { value: SummaryValue[] };
}

export function encodeEvent(e: TfEvent): Uint8Array {
  return EventType.encode(EventType.fromObject(e)).finish();
}

export function decodeEvent(bytes: Uint8Array): TfEvent {
  const msg = EventType.decode(bytes);
  return EventType.toObject(msg, { longs: Number, bytes: Uint8Array as unknown as typeof Buffer, defaults: false }) as TfEvent;
}
