import { describe, expect, it } from "vitest";
import { rawRequest, serve, status } from "./serveHelpers.js";

describe("serve, stopped (SIGTERM) while a request's body is still arriving", () => {
    it("the stalled upload is answered at once (503, Retry-After, connection closed) and the server exits 0, without waiting for --request-timeout", async () => {
        const server = await serve(["--request-timeout", "600"]);
        const body = JSON.stringify({ records: [{ prompt: "What is 1+1?", response: "2".repeat(1000) }] });
        // Expect: 100-continue: the server says "100 Continue" once it has the request's headers
        const client = rawRequest(server.url, "/v1/score", body, "Expect: 100-continue\r\n");
        await new Promise<void>((resolve) => {
            let seen = "";
            const look = (chunk: Buffer) => {
                seen += chunk;
                if (seen.includes("100 Continue")) {
                    client.socket.off("data", look);
                    resolve();
                }
            };
            client.socket.on("data", look);
        });
        client.send(body.slice(0, 5)); // and the rest never comes
        const exit = server.stop();
        const answer = await client.answer;
        const final = answer.slice(answer.indexOf("\r\n\r\n", answer.indexOf("100 Continue")) + 4);
        expect(status(final)).toBe(503);
        expect(final).toMatch(/retry-after: 1/i);
        expect(final).toMatch(/the server is stopping/);
        expect(await exit).toBe(0);
    });
});
