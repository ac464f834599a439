import { crc32, createInflateRaw } from "node:zlib";
import type { Readable } from "node:stream";
import { gzipMagic } from "../formats.js";

/** A gzip stream that breaks off (a truncated file) or is corrupt; raised only after every byte before the break. */
export class BrokenGzip extends Error {}

const endsEarly = "the gzip stream ends early (truncated file?)";

/** The bytes of one input; compressed input (it starts with the gzip magic bytes) is decompressed as it streams. */
export async function* inputBytes(stream: Readable, warn: (message: string) => void): AsyncIterable<Buffer> {
    const reader = new ByteReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>);
    try {
        const start = await reader.take(2);
        reader.unread(start);
        if (start.equals(gzipMagic)) yield* gunzip(reader, warn);
        else for (let next = await reader.next(); next !== undefined; next = await reader.next()) yield next;
    } finally {
        await reader.close();
    }
}

/**
 * Decompresses gzip as gzip does: member after member (`cat a.gz b.gz`), each checked against its CRC and length;
 * zero bytes after the last member are padding and ignored, other bytes are trailing garbage, reported once. Every
 * decoded byte is passed on before BrokenGzip is thrown.
 */
async function* gunzip(reader: ByteReader, warn: (message: string) => void): AsyncIterable<Buffer> {
    for (;;) {
        await skipHeader(reader);
        yield* inflateMember(reader);
        const next = await reader.take(2);
        if (next.length === 0) return;
        reader.unread(next);
        if (next.equals(gzipMagic)) continue;
        if (!(await reader.onlyZeros())) warn("trailing garbage after the gzip data ignored (as gzip -t reports it)");
        return;
    }
}

/** A gzip member's header (RFC 1952): fixed fields, then optional extra field, name, comment and header CRC. */
async function skipHeader(reader: ByteReader): Promise<void> {
    const fixed = await reader.take(10);
    if (fixed.length < 10) throw new BrokenGzip(endsEarly);
    if (fixed[2] !== 8) throw new BrokenGzip("the gzip data is corrupt (unknown compression method)");
    const flags = fixed[3]!;
    const skip = async (length: number) => {
        if ((await reader.take(length)).length < length) throw new BrokenGzip(endsEarly);
    };
    if (flags & 4) {
        const length = await reader.take(2);
        await skip(length.length < 2 ? 2 : length.readUInt16LE(0));
    }
    for (const flag of [8, 16]) if (flags & flag && !(await reader.skipPastZero())) throw new BrokenGzip(endsEarly);
    if (flags & 2) await skip(2);
}

/**
 * One member's deflate data, then its trailer. Inflated by hand rather than piped: a failing stream throws away
 * the output it holds, and the lines decoded just before a break would be lost.
 */
async function* inflateMember(reader: ByteReader): AsyncIterable<Buffer> {
    const inflate = createInflateRaw();
    const decoded: Buffer[] = [];
    let failure: Error | undefined, ended = false;
    // resolves when `start`'s operation is done, or when the stream ends or fails (which may leave it undone)
    let settle = () => {};
    const settled = (start: (done: () => void) => void) => new Promise<void>((resolve) => {
        settle = resolve;
        start(resolve);
    });
    inflate.on("data", (piece: Buffer) => decoded.push(piece));
    inflate.on("error", (error: Error) => {
        failure = error;
        settle();
    });
    inflate.on("end", () => {
        ended = true;
        settle();
    });
    let crc = 0, size = 0, fed = 0;
    try {
        while (!ended && failure === undefined) {
            const chunk = await reader.next();
            if (chunk === undefined) {
                await settled((done) => inflate.end(() => done()));
                failure ??= ended ? undefined : new Error(endsEarly);
            }
            // in small pieces: what one piece decodes to sits in memory at once (up to ~1000 times its size)
            for (let at = 0; chunk !== undefined && at < chunk.length && !ended && failure === undefined; at += 16 * 1024) {
                const piece = chunk.subarray(at, at + 16 * 1024);
                fed += piece.length;
                await settled((done) => inflate.write(piece, () => done()));
                // the member's data ends inside this piece: what follows it is the trailer and whatever comes next
                if (ended || inflate.bytesWritten < fed) {
                    ended = true;
                    reader.unread(chunk.subarray(at + piece.length - (fed - inflate.bytesWritten)));
                }
            }
            for (const piece of decoded.splice(0)) {
                crc = crc32(piece, crc);
                size += piece.length;
                yield piece;
            }
        }
    } finally {
        inflate.destroy();
    }
    if (failure !== undefined) {
        const code = (failure as NodeJS.ErrnoException).code;
        throw new BrokenGzip(code === "Z_BUF_ERROR" || failure.message === endsEarly ? endsEarly : `the gzip data is corrupt (${failure.message})`);
    }
    const trailer = await reader.take(8);
    if (trailer.length < 8) throw new BrokenGzip(endsEarly);
    if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== size % 2 ** 32)
        throw new BrokenGzip("the gzip data is corrupt (its checksum does not match)");
}

/** A stream's bytes read a few at a time, with bytes read too far handed back for the next read. */
class ByteReader {
    private held: Buffer[] = [];

    constructor(private readonly chunks: AsyncIterator<Buffer | string>) {}

    /** The next bytes (those handed back first), or undefined at the end. */
    async next(): Promise<Buffer | undefined> {
        const held = this.held.shift();
        if (held !== undefined) return held;
        const next = await this.chunks.next();
        return next.done ? undefined : Buffer.from(next.value);
    }

    unread(bytes: Buffer): void {
        if (bytes.length > 0) this.held.unshift(bytes);
    }

    /** The next `length` bytes, fewer at the end. */
    async take(length: number): Promise<Buffer> {
        const parts: Buffer[] = [];
        let size = 0;
        for (let next = size < length ? await this.next() : undefined; next !== undefined; next = size < length ? await this.next() : undefined) {
            parts.push(next);
            size += next.length;
        }
        const bytes = Buffer.concat(parts);
        this.unread(bytes.subarray(length));
        return bytes.subarray(0, length);
    }

    /** Skips past the next zero byte (the end of a gzip header's name or comment); false at the end. */
    async skipPastZero(): Promise<boolean> {
        for (let next = await this.next(); next !== undefined; next = await this.next()) {
            const zero = next.indexOf(0);
            if (zero !== -1) {
                this.unread(next.subarray(zero + 1));
                return true;
            }
        }
        return false;
    }

    /** Reads to the end; false, stopping there, at the first byte that is not zero. */
    async onlyZeros(): Promise<boolean> {
        for (let next = await this.next(); next !== undefined; next = await this.next())
            if (next.some((byte) => byte !== 0)) return false;
        return true;
    }

    async close(): Promise<void> {
        await this.chunks.return?.();
    }
}
