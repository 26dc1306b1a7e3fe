// Plays a rendered video in headless Debian chromium (through playwright-core) from its
// signed `content_url`, as a web page on another origin would: a page served here (not
// by the API) holds `<video src=content_url>` and `<img src=thumbnail_url>`, with no
// Authorization header anywhere. Fails unless the video reaches readyState >= 2 with the
// rendered width and duration and the thumbnail loads; a tampered link must not load.
//
// Usage: node check_media_in_browser.mjs BASE_URL USERNAME PASSWORD
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: check_media_in_browser.mjs BASE_URL USERNAME PASSWORD');
  process.exit(2);
}
const TIMEOUT = 60_000;

async function api(path, options = {}) {
  const response = await fetch(`${base}${path}`, options);
  const text = await response.text();
  if (!response.ok) throw new Error(`${options.method ?? 'GET'} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const tokens = await api('/api/v1/users/login', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username, password }),
});
const auth = { authorization: `Bearer ${tokens.access_token}` };
const created = await api('/api/v1/videos', {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  body: JSON.stringify({ title: 'Browser check', prompt: 'A red kite over green hills at sunset.', duration_seconds: 2 }),
});
let video = created;
const deadline = Date.now() + 120_000;
while (video.status !== 'completed') {
  if (video.status === 'failed' || Date.now() > deadline) throw new Error(`the render did not complete: ${JSON.stringify(video)}`);
  await new Promise((resolve) => setTimeout(resolve, 250));
  video = await api(`/api/v1/videos/${created.id}`, { headers: auth });
}
if (!video.content_url?.includes('signature=') || !video.thumbnail_url?.includes('signature=')) {
  throw new Error(`the links are not signed: ${video.content_url} ${video.thumbnail_url}`);
}

// The page, on an origin of its own.
const escape = (text) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
const tampered = video.content_url.replace(/signature=([^&]*)/, (_, s) => `signature=${s.slice(0, -2)}xx`);
const html = `<!doctype html><meta charset="utf-8"><title>media</title>
<video id="video" muted preload="auto" src="${escape(video.content_url)}"></video>
<video id="tampered" muted preload="auto" src="${escape(tampered)}"></video>
<img id="thumbnail" src="${escape(video.thumbnail_url)}" alt="">`;
const page_server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(html);
});
await new Promise((resolve) => page_server.listen(0, '127.0.0.1', resolve));
const page_url = `http://127.0.0.1:${page_server.address().port}/`;

const profile = mkdtempSync(join(tmpdir(), 'vidgen-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const failures = [];
const authorized = [];
browser.on('request', (request) => {
  if (request.headers().authorization) authorized.push(request.url());
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(page_url, { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('video').readyState >= 2, null, { timeout: TIMEOUT });
  const shown = await page.evaluate(() => {
    const video = document.getElementById('video');
    const image = document.getElementById('thumbnail');
    return {
      readyState: video.readyState,
      width: video.videoWidth,
      height: video.videoHeight,
      duration: video.duration,
      error: video.error && video.error.code,
      image: image.complete ? image.naturalWidth : -1,
    };
  });
  console.log(`the video plays: ${JSON.stringify(shown)}`);
  if (shown.width !== video.width || shown.height !== video.height) failures.push(`video is ${shown.width}x${shown.height}, the API says ${video.width}x${video.height}`);
  if (Math.abs(shown.duration - video.duration) > 0.1) failures.push(`video lasts ${shown.duration} s, the API says ${video.duration} s`);
  await page.waitForFunction(() => document.getElementById('thumbnail').complete, null, { timeout: TIMEOUT });
  const image = await page.evaluate(() => document.getElementById('thumbnail').naturalWidth);
  if (!(image > 0)) failures.push('the thumbnail did not load');
  await page.waitForFunction(() => document.getElementById('tampered').error !== null, null, { timeout: TIMEOUT })
    .catch(() => failures.push('the tampered link did not fail'));
  if (authorized.length) failures.push(`requests carried an Authorization header: ${authorized.join(', ')}`);
} finally {
  await browser.close();
  page_server.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('signed media links load in the browser');
