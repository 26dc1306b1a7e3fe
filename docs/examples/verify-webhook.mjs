// Verifying a vidgen webhook in Node.js with nothing but the standard library.
//
//   WEBHOOK_SECRET=whsec_... node verify-webhook.mjs   # reads {"headers", "body"} on stdin
//
// In a web framework, use the raw request body (before any JSON parsing) and the
// request headers, and answer 2xx quickly.
import { createHmac, timingSafeEqual } from "node:crypto";

const TOLERANCE_SECONDS = 5 * 60;

export function verify(secret, headers, rawBody) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing webhook headers");
  const age = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (!(age <= TOLERANCE_SECONDS)) throw new Error("stale or future timestamp");
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${rawBody}`).digest();
  // The header may carry several space-separated signatures (during key rotation).
  const ok = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || !signature) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) throw new Error("no valid signature");
  return JSON.parse(rawBody);
}

const input = await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
});
const delivery = JSON.parse(input);
try {
  const event = verify(process.env.WEBHOOK_SECRET, delivery.headers, delivery.body);
  console.log(`${event.type} for video ${event.data.id} (${event.data.status})`);
} catch (error) {
  console.log(`rejected: ${error.message}`);
  process.exit(1);
}
