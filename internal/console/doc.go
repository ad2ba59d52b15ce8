// Package console is the compliance console: the web page at /ui/ for the
// people who answer GDPR requests (data protection officers, the privacy
// team, auditors).
//
// # Model
//
// The console is a static page embedded in the binary: one html/template
// shell, one vanilla script and one style sheet, nothing loaded from another
// host, no Node toolchain to build it. It has no privileges of its own. The
// user signs in with a bearer token, which the script keeps in memory and
// sessionStorage (never a cookie, localStorage or a URL) and sends as the
// Authorization header on every /v1 call, so the page sees and does exactly
// what the same principal could with curl, under the same policy.
//
// # Caveats
//
//   - Personal data never goes into the page URL: the view is held in
//     memory, a search value is sent in a POST body, and the title is fixed.
//     Subject IDs do appear in /v1 API paths, as for any client.
//   - Every answer carries a strict Content-Security-Policy (no inline script,
//     no eval, default-src 'self'), X-Frame-Options: DENY and
//     frame-ancestors 'none'. There are no cookies, so no CSRF.
//   - The audit filters purpose and time range are applied by the page to
//     the records the API returns for subject and principal.
package console
