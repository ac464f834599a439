import type { LlamaModel, Token } from "node-llama-cpp";

/** A vocabulary token that llama.cpp matches as text before tokenizing (control, user-defined, unknown). */
type Special = { text: string; id: Token; lstrip: boolean; rstrip: boolean };

/** Raw text, or a special token found in it. */
type Piece = string | Token;

/** [start, end) offsets of a part of a text, in order, not overlapping. */
export type Span = readonly [start: number, end: number];

/** A rendered text's tokens, or, when tokenizing stopped past the limit, a lower bound of their count. */
export type Tokenized = { tokens: Token[]; atLeast?: undefined } | { tokens?: undefined; atLeast: number };

/** C's isspace, which llama.cpp's lstrip/rstrip use. */
const cSpace = /[ \t\n\v\f\r]/;

/**
 * Tokenizes like llama.cpp's `llama_tokenize(text, parse_special = true)`, in time linear in the text. llama.cpp
 * splits the text at special-token text (longest token first) in a linked list it walks from the start for every
 * match: a row of 32k short messages took 70 s. The same split is done here on arrays, and only the plain pieces
 * go to llama.cpp, without special parsing; each piece is tokenized on its own there too, so the tokens are the same.
 */
export class Tokenizer {
    /** Longest first, as llama.cpp matches them. */
    private readonly specials: Special[];
    /** Any special-token text. */
    private readonly specialText: RegExp;
    /** The most bytes of text one token covers: a text of B bytes is at least B / this many tokens. */
    private readonly maxTokenBytes: number;

    constructor(private readonly model: LlamaModel) {
        const vocab: readonly string[] = model.fileInfo.metadata.tokenizer?.ggml?.tokens ?? [];
        this.specials = vocab.flatMap((text, id) => {
            const attributes = model.getTokenAttributes(id as Token);
            return (attributes.control || attributes.userDefined || attributes.unknown) && text !== ""
                ? [{ text, id: id as Token, lstrip: attributes.lstrip, rstrip: attributes.rstrip }] : [];
        }).sort((a, b) => Buffer.byteLength(b.text) - Buffer.byteLength(a.text));
        const escaped = this.specials.map((s) => s.text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"));
        this.specialText = escaped.length === 0 ? /$^/ : new RegExp(escaped.join("|"));
        // byte-level BPE (gpt2): one character of token text is one byte of input; otherwise a token's UTF-8 text is at
        // least as long as what it covers (SentencePiece writes a space as the 3-byte "▁"); other kinds get no bound
        const kind = model.fileInfo.metadata.tokenizer?.ggml?.model;
        const length = kind === "gpt2" ? (text: string) => [...text].length : kind === "llama" ? Buffer.byteLength : undefined;
        this.maxTokenBytes = length === undefined ? Infinity : vocab.reduce((max, text) => Math.max(max, length(text)), 1);
    }

    /** Whether the text holds the text of a special token (which the model would read as that token). */
    hasSpecialText(text: string): boolean {
        return this.specialText.test(text);
    }

    /**
     * The tokens of a rendered text with special tokens parsed and exactly one BOS at the start. Text inside `plain`
     * spans is tokenized as plain text. Past `limit` tokens it stops and says how many there are at least.
     */
    tokenize(text: string, options: { limit?: number; plain?: readonly Span[] } = {}): Tokenized {
        const { limit = Infinity, plain = [] } = options;
        const present = this.specials.filter((s) => text.includes(s.text));
        const pieces: Piece[] = [];
        let at = 0;
        for (const [start, end] of [...plain, [text.length, text.length] as const]) {
            for (const piece of this.split(text.slice(at, start), present)) pieces.push(piece);
            pieces.push(text.slice(start, end));
            at = end;
        }

        const bos = this.model.tokens.bos;
        const tokens: Token[] = bos === null ? [] : [bos];
        for (const piece of pieces) {
            if (typeof piece !== "string") {
                // exactly one BOS: the template's own (a run of them) stands for the one added
                if (!(piece === bos && tokens.length === 1 && tokens[0] === bos)) tokens.push(piece);
            } else if (piece !== "") {
                const least = tokens.length + Math.ceil(Buffer.byteLength(piece) / this.maxTokenBytes);
                if (least > limit) return { atLeast: least };
                for (const token of this.model.tokenize(piece, false)) tokens.push(token);
            }
            if (tokens.length > limit) return { atLeast: tokens.length };
        }
        return { tokens };
    }

    /** llama.cpp's partition of a text at the given special tokens: each token in turn splits every plain piece. */
    private split(text: string, specials: readonly Special[]): Piece[] {
        let pieces: Piece[] = text === "" ? [] : [text];
        for (const special of specials) {
            if (!text.includes(special.text)) continue;
            const next: Piece[] = [];
            for (const piece of pieces) {
                if (typeof piece !== "string") {
                    next.push(piece);
                    continue;
                }
                let from = 0;
                for (let match = piece.indexOf(special.text); match !== -1; match = piece.indexOf(special.text, from)) {
                    let end = match;
                    if (special.lstrip) while (end > from && cSpace.test(piece[end - 1]!)) end--;
                    if (end > from) next.push(piece.slice(from, end));
                    next.push(special.id);
                    from = match + special.text.length;
                    if (special.rstrip) while (from < piece.length && cSpace.test(piece[from]!)) from++;
                }
                if (from < piece.length) next.push(piece.slice(from));
            }
            pieces = next;
        }
        return pieces;
    }
}
