// TensorFlow's Event and Summary messages (tensorflow/core/util/event.proto and
// tensorflow/core/framework/summary.proto), declared with protobufjs's reflection API. Field
// numbers follow the .proto files; fields this project never writes are left out.
import * as protobuf from 'protobufjs';

const root = new protobuf.Root();
root.add(
  new protobuf.Type('HistogramProto')
    .add(new protobuf.Field('min', 1, 'double'))
    .add(new protobuf.Field('max', 2, 'double'))
    .add(new protobuf.Field('num', 3, 'double'))
    .add(new protobuf.Field('sum', 4, 'double'))
    .add(new protobuf.Field('sumSquares', 5, 'double'))
    .add(new protobuf.Field('bucketLimit', 6, 'double', 'repeated', undefined, { packed: true }))
    .add(new protobuf.Field('bucket', 7, 'double', 'repeated', undefined, { packed: true })),
);
root.add(
  new protobuf.Type('Image')
    .add(new protobuf.Field('height', 1, 'int32'))
    .add(new protobuf.Field('width', 2, 'int32'))
    .add(new protobuf.Field('colorspace', 3, 'int32'))
    .add(new protobuf.Field('encodedImageString', 4, 'bytes')),
);
root.add(new protobuf.Type('PluginData').add(new protobuf.Field('pluginName', 1, 'string')).add(new protobuf.Field('content', 2, 'bytes')));
root.add(new protobuf.Type('SummaryMetadata').add(new protobuf.Field('pluginData', 1, 'PluginData')).add(new protobuf.Field('displayName', 2, 'string')));
root.add(
  new protobuf.Type('Value')
    .add(new protobuf.Field('tag', 1, 'string'))
    .add(new protobuf.Field('simpleValue', 2, 'float'))
    .add(new protobuf.Field('image', 4, 'Image'))
    .add(new protobuf.Field('histo', 5, 'HistogramProto'))
    .add(new protobuf.Field('nodeName', 7, 'string'))
    .add(new protobuf.Field('metadata', 9, 'SummaryMetadata')),
);
root.add(new protobuf.Type('Summary').add(new protobuf.Field('value', 1, 'Value', 'repeated')));
root.add(
  new protobuf.Type('Event')
    .add(new protobuf.Field('wallTime', 1, 'double'))
    .add(new protobuf.Field('step', 2, 'int64'))
    .add(new protobuf.Field('fileVersion', 3, 'string'))
    .add(new protobuf.Field('summary', 5, 'Summary')),
);

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
