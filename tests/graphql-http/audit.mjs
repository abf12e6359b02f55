// graphql-http's audits of a GraphQL-over-HTTP server, with a bearer token.
// Usage: TOKEN=... node audit.mjs http://127.0.0.1:8080/graphql
// Prints one line per audit that is not ok, then the totals; exits 1 when
// any audit warns or fails (notices, the specification's MAYs, do not).
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const token = process.env.TOKEN;
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  counts[result.status] = (counts[result.status] || 0) + 1;
  if (result.status !== 'ok') {
    console.log(`${result.status}: ${audit.name} (${result.reason})`);
  }
}
console.log(`ok ${counts.ok} notice ${counts.notice} warn ${counts.warn} error ${counts.error}`);
process.exit(counts.warn + counts.error > 0 ? 1 : 0);
