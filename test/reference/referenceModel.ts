/**
 * An independent float64 forward pass of a llama-architecture GGUF, for checking the engine's rewards.
 * It reads the weights straight from the file (located with node-llama-cpp's GGUF parser) and shares
 * no code with nemoreward or llama.cpp: plain loops, written from the Llama architecture.
 */
import { openSync, readSync, closeSync } from "node:fs";
import { readGgufFileInfo } from "node-llama-cpp";

type Matrix = { rows: number; cols: number; data: Float64Array };

export type ReferenceModel = {
    vocab: string[];
    tokenize(text: string): number[];
    /** Text as plain bytes, special-token text included. */
    tokenizeText(text: string): number[];
    /** Logits of the given vocabulary ids after the last token of `tokens`. */
    logits(tokens: number[], ids: number[]): number[];
};

function halfToFloat(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** GPT-2 byte-level encoding: the printable bytes stand for themselves, the others move to U+0100 and up. */
function byteToUnicode(): string[] {
    const table: string[] = [];
    let next = 256;
    for (let b = 0; b < 256; b++) {
        const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        table[b] = String.fromCodePoint(printable ? b : next++);
    }
    return table;
}

export async function loadReferenceModel(path: string): Promise<ReferenceModel> {
    const info = await readGgufFileInfo(path);
    const meta = info.metadata as any;
    const arch = meta.llama;
    const hidden: number = arch.embedding_length;
    const heads: number = arch.attention.head_count;
    const kvHeads: number = arch.attention.head_count_kv;
    const eps: number = arch.attention.layer_norm_rms_epsilon;
    const base: number = arch.rope.freq_base;
    const layers: number = arch.block_count;
    const vocab: string[] = meta.tokenizer.ggml.tokens;
    const types: number[] = meta.tokenizer.ggml.token_type;

    const fd = openSync(path, "r");
    const tensor = (name: string): Matrix => {
        const t = info.tensorInfo!.find((x) => x.name === name);
        if (!t) throw new Error(`no tensor ${name}`);
        const [cols, rows = 1] = t.dimensions.map(Number) as [number, number?];
        const n = cols * rows;
        const width = t.ggmlType === 0 ? 4 : 2;
        const buf = Buffer.alloc(n * width);
        readSync(fd, buf, 0, buf.length, Number(t.fileOffset));
        const data = new Float64Array(n);
        for (let i = 0; i < n; i++) data[i] = width === 4 ? buf.readFloatLE(i * 4) : halfToFloat(buf.readUInt16LE(i * 2));
        return { rows, cols, data };
    };
    const embd = tensor("token_embd.weight");
    const blocks = Array.from({ length: layers }, (_, l) => ({
        attnNorm: tensor(`blk.${l}.attn_norm.weight`).data,
        q: tensor(`blk.${l}.attn_q.weight`),
        k: tensor(`blk.${l}.attn_k.weight`),
        v: tensor(`blk.${l}.attn_v.weight`),
        o: tensor(`blk.${l}.attn_output.weight`),
        ffnNorm: tensor(`blk.${l}.ffn_norm.weight`).data,
        gate: tensor(`blk.${l}.ffn_gate.weight`),
        up: tensor(`blk.${l}.ffn_up.weight`),
        down: tensor(`blk.${l}.ffn_down.weight`),
    }));
    const outNorm = tensor("output_norm.weight").data;
    const output = tensor("output.weight");
    closeSync(fd);

    const matVec = (m: Matrix, x: Float64Array): Float64Array => {
        const y = new Float64Array(m.rows);
        for (let r = 0; r < m.rows; r++) {
            let s = 0;
            const off = r * m.cols;
            for (let c = 0; c < m.cols; c++) s += m.data[off + c]! * x[c]!;
            y[r] = s;
        }
        return y;
    };
    const rmsNorm = (x: Float64Array, w: Float64Array): Float64Array => {
        let ss = 0;
        for (const v of x) ss += v * v;
        const scale = 1 / Math.sqrt(ss / x.length + eps);
        return x.map((v, i) => v * scale * w[i]!);
    };
    const headDim = hidden / heads;
    // llama.cpp's "normal" rope for the llama architecture rotates adjacent pairs.
    const rope = (x: Float64Array, pos: number, nHeads: number) => {
        for (let h = 0; h < nHeads; h++) {
            for (let i = 0; i < headDim; i += 2) {
                const theta = pos * base ** (-i / headDim);
                const [c, s] = [Math.cos(theta), Math.sin(theta)];
                const a = x[h * headDim + i]!, b = x[h * headDim + i + 1]!;
                x[h * headDim + i] = a * c - b * s;
                x[h * headDim + i + 1] = a * s + b * c;
            }
        }
    };

    const specials = vocab
        .map((text, id) => ({ text, id }))
        .filter(({ id }) => types[id] === 3 || types[id] === 4)
        .sort((a, b) => b.text.length - a.text.length);
    const unicode = byteToUnicode();
    const byId = new Map(vocab.map((text, id) => [text, id]));

    const bytes = (text: string) => [...Buffer.from(text, "utf8")].map((byte) => byId.get(unicode[byte]!)!);

    return {
        vocab,
        tokenizeText: bytes,
        tokenize(text) {
            const out: number[] = [];
            let rest = text;
            while (rest.length > 0) {
                let at = rest.length, hit: { text: string; id: number } | undefined;
                for (const s of specials) {
                    const i = rest.indexOf(s.text);
                    if (i !== -1 && i < at) [at, hit] = [i, s];
                }
                for (const token of bytes(rest.slice(0, at))) out.push(token);
                if (!hit) break;
                out.push(hit.id);
                rest = rest.slice(at + hit.text.length);
            }
            return out;
        },
        logits(tokens, ids) {
            const cacheK: Float64Array[][] = blocks.map(() => []);
            const cacheV: Float64Array[][] = blocks.map(() => []);
            let x = new Float64Array(hidden);
            tokens.forEach((token, pos) => {
                x = embd.data.slice(token * hidden, (token + 1) * hidden);
                blocks.forEach((b, l) => {
                    const h = rmsNorm(x, b.attnNorm);
                    const q = matVec(b.q, h), k = matVec(b.k, h), v = matVec(b.v, h);
                    rope(q, pos, heads);
                    rope(k, pos, kvHeads);
                    cacheK[l]!.push(k);
                    cacheV[l]!.push(v);
                    const attn = new Float64Array(hidden);
                    for (let hd = 0; hd < heads; hd++) {
                        const kvh = Math.floor(hd / (heads / kvHeads));
                        const scores = cacheK[l]!.map((kk) => {
                            let s = 0;
                            for (let i = 0; i < headDim; i++) s += q[hd * headDim + i]! * kk[kvh * headDim + i]!;
                            return s / Math.sqrt(headDim);
                        });
                        const max = Math.max(...scores);
                        const w = scores.map((s) => Math.exp(s - max));
                        const sum = w.reduce((a, c) => a + c, 0);
                        cacheV[l]!.forEach((vv, t) => {
                            for (let i = 0; i < headDim; i++) attn[hd * headDim + i]! += (w[t]! / sum) * vv[kvh * headDim + i]!;
                        });
                    }
                    const o = matVec(b.o, attn);
                    x = x.map((val, i) => val + o[i]!);
                    const h2 = rmsNorm(x, b.ffnNorm);
                    const g = matVec(b.gate, h2), u = matVec(b.up, h2);
                    const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
                    const d = matVec(b.down, act);
                    x = x.map((val, i) => val + d[i]!);
                });
            });
            const final = rmsNorm(x, outNorm);
            return ids.map((id) => {
                let s = 0;
                for (let c = 0; c < hidden; c++) s += output.data[id * hidden + c]! * final[c]!;
                return s;
            });
        },
    };
}
