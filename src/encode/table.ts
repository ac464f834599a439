import stringWidth from "string-width";
import type { Encoder, EncoderOptions } from "./encoder.js";

const characters = new Intl.Segmenter();

/** A view for people: line, value, and the end of the prompt and response, cut to the terminal's width. */
export function tableEncoder({ layoutOf, color, width }: EncoderOptions): Encoder {
    const textWidth = Math.max(20, width - 22);
    const flat = (s: string) => s.replace(/\s+/g, " ").trim();
    // by display width: a CJK character takes two columns
    const cut = (s: string, n: number) => {
        const whole = stringWidth(s);
        if (whole <= n) return s + " ".repeat(n - whole);
        let kept = "", used = 0;
        for (const { segment } of characters.segment(s)) {
            if (used + stringWidth(segment) > n - 1) break;
            kept += segment;
            used += stringWidth(segment);
        }
        return `${kept}…${" ".repeat(n - 1 - used)}`;
    };
    let valueField: string | undefined;
    return {
        row({ input, fields, task }) {
            const conversation = task?.conversations[0];
            const first = valueField === undefined;
            valueField ??= layoutOf(input)[0]?.name ?? "reward";
            const header = first ? color.bold(`${"line".padStart(7)}  ${valueField.padStart(10)}  conversation\n`) : "";
            const value = fields[valueField] ?? Object.values(fields)[0];
            const shown = typeof value === "number" ? color.cyan(value.toFixed(4).padStart(10)) : color.red("—".padStart(10));
            const last = conversation?.[conversation.length - 1]?.content ?? "";
            const prompt = conversation?.slice(0, -1).reverse().find((m) => m.role === "user")?.content ?? "";
            const half = Math.floor(textWidth / 2) - 2;
            const text = fields["error"] != null
                ? color.red(cut(String(fields["error"]), textWidth))
                : `${color.dim(cut(flat(prompt), half))} → ${cut(flat(last), half)}`;
            return `${header}${String(input.line).padStart(7)}  ${shown}  ${text}\n`;
        },
        end: () => "",
    };
}
