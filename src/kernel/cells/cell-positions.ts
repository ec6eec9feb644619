// Where a position in a cell's compiled JavaScript came from in the TypeScript the user wrote:
// read from the source map the converter emits (exact), or, for positions it does not cover
// (code the compiler added, or a result without a map), from the line alignment of line-map.ts.
import { SourceMap } from 'module';
import { LineMap, SourcePosition } from './line-map';

interface MapEntry {
  generatedLine?: number;
  originalLine?: number;
  originalColumn?: number;
}

export class CellPositions {
  private lines?: LineMap;
  private readonly sourceMap?: SourceMap;

  constructor(
    private readonly src: string,
    private readonly out: string,
    sourceMap?: string,
  ) {
    try {
      if (sourceMap) this.sourceMap = new SourceMap(JSON.parse(sourceMap) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      // A map that does not parse: the alignment still gives lines.
    }
  }

  /** The 1-based source position of a 1-based position in the output. */
  map(line: number, column: number): SourcePosition {
    const e = this.sourceMap?.findEntry(line - 1, column - 1) as MapEntry | undefined;
    // Only an entry on the same output line is trusted (findEntry falls back to earlier lines).
    if (e && e.generatedLine === line - 1 && e.originalLine !== undefined && e.originalColumn !== undefined) {
      // The start of the mapped token: the output's text may differ from the source inside it.
      return { line: e.originalLine + 1, column: e.originalColumn + 1 };
    }
    this.lines ??= new LineMap(this.src, this.out);
    return this.lines.map(line, column);
  }
}
