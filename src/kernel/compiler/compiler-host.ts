// The file system as the cell compiler sees it. Every cell is checked in a new TypeScript
// program; what makes that cheap is handing each program the same parsed (and bound) files:
// TypeScript's libs and everything under node_modules are parsed once per kernel, the
// notebook's own .ts/.js files again only when they change on disk, and the two in-memory
// files (the cell and the declarations of earlier cells) are supplied by the converter.
// Module resolutions are remembered once they succeed; failures only while one program is built
// (Node's types name `node:stream` and friends from every file, and each failed lookup probes
// every node_modules folder up to the root), so a package installed later is still found.
import * as fs from 'fs';
import { isBuiltin } from 'module';
import * as path from 'path';
import type * as TS from 'typescript';

interface CachedFile {
  sf: TS.SourceFile;
  /** mtime and size for files that may change; undefined for files read once. */
  stamp?: string;
}

export class CellCompilerHost {
  readonly host: TS.CompilerHost;
  /** In-memory files, each parsed once per text. */
  private readonly memory = new Map<string, { text: string; sf?: TS.SourceFile }>();
  private readonly files = new Map<string, CachedFile>();
  private readonly resolutions = new Map<string, TS.ResolvedModuleWithFailedLookupLocations>();
  private failedResolutions = new Map<string, TS.ResolvedModuleWithFailedLookupLocations>();
  private readonly typeResolutions = new Map<string, TS.ResolvedTypeReferenceDirectiveWithFailedLookupLocations>();
  private readonly directories = new Map<string, string[]>();
  private readonly texts = new Map<string, string | undefined>();

  /** rootDir: the notebook's folder; declaration files outside it (libraries') are read once. */
  constructor(ts: typeof TS, options: TS.CompilerOptions, rootDir: string) {
    const base = ts.createCompilerHost(options);
    const libDir = path.dirname(ts.getDefaultLibFilePath(options));
    const stampOf = (file: string): string | undefined => {
      try {
        const st = fs.statSync(file);
        return `${st.mtimeMs}:${st.size}`;
      } catch {
        return undefined;
      }
    };
    const isLasting = (file: string): boolean =>
      file.includes('/node_modules/') || file.startsWith(libDir) || (file.endsWith('.d.ts') && !file.startsWith(rootDir + path.sep));
    const getSourceFile = (
      file: string,
      lang: TS.ScriptTarget | TS.CreateSourceFileOptions,
      onError?: (m: string) => void,
    ): TS.SourceFile | undefined => {
      const inMemory = this.memory.get(file);
      if (inMemory) return (inMemory.sf ??= ts.createSourceFile(file, inMemory.text, lang, false, ts.ScriptKind.TS));
      const lasting = isLasting(file);
      const stamp = lasting ? undefined : stampOf(file);
      const cached = this.files.get(file);
      if (cached && cached.stamp === stamp) return cached.sf;
      const sf = base.getSourceFile(file, lang, onError);
      if (sf) this.files.set(file, { sf, stamp });
      return sf;
    };
    const resolveModuleNameLiterals = (
      names: readonly TS.StringLiteralLike[],
      containingFile: string,
      redirect: TS.ResolvedProjectReference | undefined,
      opts: TS.CompilerOptions,
    ): TS.ResolvedModuleWithFailedLookupLocations[] =>
      names.map((lit) => {
        const key = `${path.dirname(containingFile)}\0${lit.text}`;
        const known = this.resolutions.get(key) ?? this.failedResolutions.get(key);
        if (known) return known;
        // Node's own modules are never files: their types are `declare module` blocks in @types/node.
        if (isBuiltin(lit.text)) return { resolvedModule: undefined } as unknown as TS.ResolvedModuleWithFailedLookupLocations;
        const r = ts.resolveModuleName(lit.text, containingFile, opts, this.host, undefined, redirect);
        (r.resolvedModule ? this.resolutions : this.failedResolutions).set(key, r);
        return r;
      });
    // Every program looks for @types packages and resolves them again: once is enough.
    const resolveTypeReferenceDirectiveReferences = <T extends TS.FileReference | string>(
      refs: readonly T[],
      containingFile: string,
      redirect: TS.ResolvedProjectReference | undefined,
      opts: TS.CompilerOptions,
    ): TS.ResolvedTypeReferenceDirectiveWithFailedLookupLocations[] =>
      refs.map((ref) => {
        const name = typeof ref === 'string' ? ref : ref.fileName.toLowerCase();
        const key = `${path.dirname(containingFile)}\0${name}`;
        const known = this.typeResolutions.get(key);
        if (known) return known;
        const r = ts.resolveTypeReferenceDirective(name, containingFile, opts, this.host, redirect);
        if (r.resolvedTypeReferenceDirective) this.typeResolutions.set(key, r);
        return r;
      });
    const getDirectories = (dir: string): string[] => {
      let list = this.directories.get(dir);
      if (!list) this.directories.set(dir, (list = base.getDirectories?.(dir) ?? []));
      return list;
    };
    // TypeScript looks for a package overriding each of its ~50 lib files (`@typescript/lib-*`)
    // in every node_modules folder up to the root; through this cache it does so once.
    const libOverrideLookups = ts.createModuleResolutionCache(rootDir, (f) => f, options);
    this.host = Object.assign(Object.create(base) as TS.CompilerHost, {
      getModuleResolutionCache: () => libOverrideLookups,
      resolveTypeReferenceDirectiveReferences,
      getDirectories,
      getSourceFile,
      fileExists: (file: string) =>
        this.memory.has(file) || (isLasting(file) && this.texts.get(file) !== undefined) || base.fileExists(file),
      readFile: (file: string) => {
        if (this.memory.has(file)) return this.memory.get(file)!.text;
        if (!isLasting(file)) return base.readFile(file);
        // package.json files of installed packages, read by every program's @types lookup.
        if (!this.texts.has(file)) this.texts.set(file, base.readFile(file));
        return this.texts.get(file);
      },
      directoryExists: (dir: string) =>
        (dir.includes('/node_modules/') && this.directories.has(dir)) || (base.directoryExists?.(dir) ?? true),
      writeFile: () => {
        throw new Error('the cell compiler writes nothing to disk');
      },
      resolveModuleNameLiterals,
    });
  }

  /** Called before each program: modules not found before are looked for again. */
  newProgram(): void {
    this.failedResolutions = new Map();
  }

  /** Serves a file from memory; programs share its parse until the text changes. */
  setInMemory(file: string, text: string): void {
    if (this.memory.get(file)?.text !== text) this.memory.set(file, { text });
  }

  /** Which version of a file on disk programs are given now (to emit changed local modules once). */
  versionOf(file: string): string | undefined {
    return this.files.get(file)?.stamp;
  }
}
