import { Interpreter, Template } from "@huggingface/jinja";
import { ModelError, RowError } from "../errors.js";
import type { Conversation } from "../conversation/toConversation.js";

/** Python's whitespace (str.isspace): what jinja2's `trim` filter and `strip()` methods remove. */
const pythonSpace = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Python's str.strip, lstrip or rstrip, in linear time (a regex anchored at the end backtracks on long inner runs). */
export function pythonStrip(text: string, how: "strip" | "lstrip" | "rstrip"): string {
    let start = 0, end = text.length;
    if (how !== "rstrip") while (start < end && pythonSpace.test(text[start]!)) start++;
    if (how !== "lstrip") while (end > start && pythonSpace.test(text[end - 1]!)) end--;
    return text.slice(start, end);
}
const strips = new Set(["strip", "lstrip", "rstrip"]);

type Value = { type: string; value: unknown; constructor: new (value: string) => Value };
type Node = { type: string; value?: string; args?: unknown[]; callee?: Node; object?: Node; property?: Node; computed?: boolean };
type Internals = {
    applyFilter(operand: Value, filter: Node, environment: unknown): Value;
    evaluateCallExpression(expr: Node, environment: unknown): Value;
    evaluate(node: Node, environment: unknown): Value;
};

/**
 * Hugging Face renders templates with Python's jinja2, whose `trim` and `strip()` remove Python's whitespace: they
 * keep U+FEFF (a byte-order mark) and remove U+001C–U+001F and U+0085. @huggingface/jinja uses JavaScript's trim,
 * which does the opposite, so these two places of its interpreter are made to strip the Python way.
 */
function stripLikePython(): void {
    const interpreter = Interpreter.prototype as unknown as Internals;
    const { applyFilter, evaluateCallExpression } = interpreter;
    const strip = (value: Value, how: "strip" | "lstrip" | "rstrip"): Value => new value.constructor(pythonStrip(value.value as string, how));
    interpreter.applyFilter = function (operand, filter, environment) {
        if (operand.type === "StringValue" && filter.type === "Identifier" && filter.value === "trim") return strip(operand, "strip");
        return applyFilter.call(this, operand, filter, environment);
    };
    interpreter.evaluateCallExpression = function (expr, environment) {
        const { callee } = expr;
        const how = callee?.type === "MemberExpression" && !callee.computed && expr.args?.length === 0 ? callee.property?.value : undefined;
        const object = how !== undefined && strips.has(how) ? this.evaluate(callee!.object!, environment) : undefined;
        if (object?.type === "StringValue") return strip(object, how as "strip" | "lstrip" | "rstrip");
        return evaluateCallExpression.call(this, expr, environment);
    };
}
stripLikePython();

/** A chat template compiled once and rendered per conversation the way Hugging Face does. */
export class ChatTemplate {
    private readonly template: Template;

    constructor(readonly source: string, private readonly specialTokens: { bos_token: string; eos_token: string }) {
        try {
            this.template = new Template(source);
        } catch (error) {
            throw new ModelError(`the chat template does not parse: ${(error as Error).message}`, { cause: error });
        }
    }

    /** The exact text the model sees: no generation prompt, since the last assistant turn is what is rated. */
    render(conversation: Conversation): string {
        try {
            return this.template.render({
                messages: conversation,
                add_generation_prompt: false,
                ...this.specialTokens,
            });
        } catch (error) {
            throw new RowError(`the chat template failed: ${(error as Error).message}`, { cause: error });
        }
    }
}
