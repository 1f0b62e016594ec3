// Education in the browser: a learner finds a course, enrols, reads a lesson with a live chart
// block drawn from the stored EURUSD history, answers its forecasting exercise (scored by the
// server, with the model's answer), completes the lesson, passes its quiz and verifies the
// certificate on the public page; an instructor edits a course, writes a quiz in the form,
// adds a live chart block (refused for an unknown symbol, next to the field, then fixed and
// previewed) and publishes the revision; and lesson markdown carrying an XSS corpus runs no script (with the app's CSP, and
// without it, so the sanitiser alone is proven).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PAGE, checkPage, failureScreenshot, launch, openPage, rest, signIn, uniqueEmail, verifiedUser } from "../support.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function tokenOf(user) {
  const res = await rest("POST", "/api/auth/login", { email: user.email, password: user.password });
  return res.tokens.accessToken;
}

/** A verified user the admin made an instructor, with a fresh token carrying the role. */
async function instructor() {
  const user = await verifiedUser("teacher");
  const admin = await tokenOf(ADMIN);
  const me = await rest("GET", "/api/users/me", undefined, await tokenOf(user));
  await rest("POST", `/api/admin/users/${me.user.id}/role`, { role: "ROLE_INSTRUCTOR" }, admin);
  return { ...user, token: await tokenOf(user) };
}

function lesson(id, title, bodyMarkdown, quiz, blocks) {
  return { id, title, bodyMarkdown, estimatedMinutes: 3, ...(quiz ? { quiz } : {}), ...(blocks ? { blocks } : {}) };
}

// Live blocks on the history `make run` imports (the EURUSD sample, hourly).
const LIVE_BLOCKS = [
  { id: "chart", caption: "EURUSD with RSI", chart: { symbol: "EURUSD", timeframe: "1h", start: "2017-11-06", end: "2017-11-15", indicators: ["rsi:14"] } },
  { id: "guess", caption: "Up or down?", forecast: { symbol: "EURUSD", timeframe: "1h", windowEnd: "2017-11-14T12:00:00Z", windowBars: 40, horizonBars: 8 } },
];

/** Creates and publishes a course through the API; returns its id and slug. */
async function publishedCourse(teacher, title, lessons) {
  const slug = uniqueEmail("course").split("@")[0].toLowerCase();
  const content = {
    title,
    slug,
    summary: `${title}, written by the browser tests.`,
    level: "COURSE_LEVEL_BEGINNER",
    tier: "COURSE_TIER_FREE",
    tags: ["browser"],
    modules: [{ id: "m1", title: "The module", lessons }],
  };
  const created = await rest("POST", "/api/authoring/courses", { content }, teacher.token);
  const id = created.course.courseId;
  await rest("POST", `/api/authoring/courses/${id}/publish`, { expectedRevision: 1 }, teacher.token);
  return { id, slug };
}

const QUIZ = {
  passingScorePercent: 100,
  maxAttempts: 3,
  questions: [
    {
      id: "q1",
      kind: "QUESTION_KIND_SINGLE_CHOICE",
      prompt: "Which price closes a candle?",
      choices: [
        { id: "a", text: "The first traded price" },
        { id: "b", text: "The last traded price" },
      ],
      correctChoiceIds: ["b"],
      explanation: "The close is the bar's last traded price.",
    },
  ],
};

test("a learner enrols, completes a lesson, passes the quiz and verifies the certificate", async (t) => {
  const teacher = await instructor();
  const title = `Candles in the browser ${Date.now().toString(36)}`;
  const course = await publishedCourse(teacher, title, [
    lesson("read", "Reading a candle", "# Reading a candle\n\nThe **close** is the last price.\n\n| field | meaning |\n|---|---|\n| close | last price |", undefined, LIVE_BLOCKS),
    lesson("check", "Check yourself", "One question.", QUIZ),
  ]);
  const learner = await verifiedUser("learner");
  const page = await openPage(browser);
  try {
    await signIn(page, learner.email, learner.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("main-nav").getByRole("link", { name: "Courses" }).click();
    await page.getByTestId("course-list").waitFor();
    await page.getByLabel("Search", { exact: true }).fill(title);
    await page.getByTestId("course-search").getByRole("button", { name: "Search" }).click();
    await page.locator(`[data-testid="course-card"][data-slug="${course.slug}"]`).waitFor();
    await checkPage(page, "catalogue");
    await page.getByRole("link", { name: title }).click();
    await page.waitForURL(`${PAGE}/courses/${course.slug}`);
    await page.getByTestId("enrol-button").click();
    await page.getByTestId("resume-link").click();
    await page.waitForURL(/\/lessons\/read$/);
    await page.getByTestId("lesson-body").getByRole("heading", { name: "Reading a candle" }).waitFor();
    assert.equal(await page.getByTestId("lesson-body").locator("table").count(), 1, "markdown tables render");
    // The chart block is drawn from the stored history (the bars of its date range) on a canvas.
    const chart = page.getByTestId("live-chart");
    await chart.locator("canvas").first().waitFor();
    const bars = Number(await chart.getAttribute("data-bars"));
    assert.ok(bars > 100 && bars <= 500, `chart bars: ${bars}`);
    await page.locator('[data-testid="live-chart"][data-indicators="1"]').waitFor();
    await page.getByTestId("forecast-chart").locator("canvas").first().waitFor();
    assert.equal(Number(await page.getByTestId("forecast-chart").getAttribute("data-bars")), 40);
    await checkPage(page, "lesson");
    // The forecasting exercise: the server scores the answer against the bars after the window.
    await page.getByTestId("forecast-up").click();
    await page.getByTestId("forecast-result").waitFor();
    const actual = await page.getByTestId("forecast-actual").innerText();
    assert.match(actual, /^(up|down)$/);
    assert.equal(await page.getByTestId("forecast-score").innerText(), actual === "up" ? "Right" : "Wrong");
    await page.getByTestId("forecast-model").waitFor();
    await page.locator('[data-testid="forecast-chart"][data-bars="48"]').waitFor(); // the outcome's bars revealed
    const progress = await rest("GET", `/api/learning/courses/${course.id}/progress`, undefined, await tokenOf(learner));
    assert.equal(progress.progress.forecastResults[0].blockId, "guess");
    await checkPage(page, "forecast answered");
    await page.getByTestId("complete-lesson").click();
    await page.getByTestId("lesson-done").waitFor();

    await page.getByTestId("next-lesson").click();
    await page.waitForURL(/\/lessons\/check$/);
    // Before submitting, the page has no answer: nothing says which choice is right.
    assert.doesNotMatch(await page.content(), /The close is the bar's last traded price/);
    await page.getByLabel("The first traded price").check();
    await page.getByTestId("submit-quiz").click();
    await page.getByTestId("quiz-result").getByText(/Not passed/).waitFor();
    await page.getByText("The close is the bar's last traded price.").waitFor(); // explanation after grading
    await page.getByLabel("The last traded price").check();
    await page.getByTestId("submit-quiz").click();
    await page.getByTestId("quiz-result").getByText(/Passed: 100%/).waitFor();
    await checkPage(page, "quiz graded");

    await page.getByTestId("course-complete").getByTestId("certificate-link").click();
    await page.getByTestId("certificate-valid").waitFor();
    assert.equal(await page.getByTestId("certificate-name").innerText(), "learner");
    assert.equal(await page.getByTestId("certificate-course").innerText(), title);
    await checkPage(page, "certificate");

    // The verification page is public: another browser profile, signed out, sees the same.
    const code = page.url().split("/").pop();
    const stranger = await openPage(browser);
    try {
      await stranger.goto(`${PAGE}/certificates/${code}`);
      await stranger.getByTestId("certificate-valid").waitFor();
      await stranger.goto(`${PAGE}/certificates/NOPE-NOPE-NOPE-NOPE`);
      await stranger.getByTestId("certificate-unknown").waitFor();
      await checkPage(stranger, "unknown certificate");
    } finally {
      await stranger.context().close();
    }
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "education-learner")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

test("an instructor edits a published course and publishes the revision", async (t) => {
  const teacher = await instructor();
  const course = await publishedCourse(teacher, `Editing ${Date.now().toString(36)}`, [lesson("one", "First lesson", "Old body.")]);
  const page = await openPage(browser);
  try {
    await signIn(page, teacher.email, teacher.password);
    await page.waitForURL(`${PAGE}/account`);
    await page.getByTestId("main-nav").getByRole("link", { name: "Authoring" }).click();
    await page.getByTestId("authored-courses").waitFor();
    await page.goto(`${PAGE}/authoring/${course.id}`); // a new page load: the refresh cookie keeps the session
    await page.getByTestId("lesson-editor").waitFor();
    await page.locator('[data-field="lesson-body"]').fill("# New body\n\nWith a [link](https://example.com).");
    await page.getByTestId("lesson-preview").getByRole("heading", { name: "New body" }).waitFor();
    await checkPage(page, "editor");
    await page.getByTestId("save-draft").click();
    await page.getByTestId("draft-state").getByText(/revision 2 · learners see revision 1/).waitFor();

    // Someone else saves meanwhile: this page's next save is refused, naming the revision.
    await rest(
      "PUT",
      `/api/authoring/courses/${course.id}`,
      {
        expectedRevision: 2,
        content: {
          title: "Changed elsewhere",
          slug: course.slug,
          level: "COURSE_LEVEL_BEGINNER",
          tier: "COURSE_TIER_FREE",
          modules: [{ id: "m1", title: "The module", lessons: [lesson("one", "First lesson", "Other body.")] }],
        },
      },
      teacher.token,
    );
    await page.locator('[data-field="summary"]').fill("A summary from the page");
    await page.getByTestId("save-draft").click();
    await page.getByTestId("editor-error").getByText(/revision 3, not 2/).waitFor();

    await page.reload();
    await page.getByTestId("draft-state").getByText(/revision 3/).waitFor();
    await page.getByTestId("publish").click();
    await page.getByTestId("draft-state").getByText(/learners see revision 3/).waitFor();
    const seen = await rest("GET", `/api/courses/${course.slug}`);
    assert.equal(seen.course.card.title, "Changed elsewhere");
    assert.equal(seen.course.revision, "3");

    // A quiz written in the form: a numeric question with a tolerance.
    await page.getByTestId("add-quiz").click();
    const question = page.getByTestId("question-editor");
    await question.getByLabel("Kind").selectOption({ label: "Numeric (with tolerance)" });
    await question.getByLabel("Prompt").fill("How many hours in a day bar of EURUSD?");
    await question.getByLabel("Correct number").fill("24");
    await question.getByLabel("Tolerance (±)").fill("0.5");
    await question.getByLabel(/Explanation/).fill("FX trades around the clock.");
    await checkPage(page, "quiz form");
    await page.getByTestId("save-draft").click();
    await page.getByTestId("draft-state").getByText(/revision 4/).waitFor();
    const draft = await rest("GET", `/api/authoring/courses/${course.id}`, undefined, teacher.token);
    const written = draft.course.content.modules[0].lessons[0].quiz.questions[0];
    assert.equal(written.kind, "QUESTION_KIND_NUMERIC");
    assert.equal(written.correctNumber, 24);
    assert.equal(written.tolerance, 0.5);

    // A live chart block written in the form: an unknown symbol is refused next to the field.
    await page.locator('[data-field="new-block-kind"]').selectOption({ label: "Chart" });
    await page.getByTestId("add-block").click();
    const block = page.getByTestId("block-editor");
    await block.getByLabel("Symbol").fill("NOPEUSD");
    await block.getByLabel("Timeframe").fill("1h");
    await block.getByLabel("Start").fill("2017-11-06");
    await block.getByLabel("End").fill("2017-11-15");
    await block.getByLabel("Indicators").fill("rsi:14");
    await block.getByLabel("Caption").fill("EURUSD in November");
    await page.getByTestId("save-draft").click();
    await block.getByTestId("error-block-symbol").getByText(/NOPEUSD is not a symbol the platform stores/).waitFor();
    assert.equal(await block.getByLabel("Symbol").getAttribute("aria-invalid"), "true");
    await page.getByTestId("draft-state").getByText(/revision 4/).waitFor(); // nothing was saved
    await checkPage(page, "block refused");
    await block.getByLabel("Symbol").fill("EURUSD");
    await page.getByTestId("save-draft").click();
    await page.getByTestId("draft-state").getByText(/revision 5/).waitFor();
    assert.equal(await block.getByTestId("error-block-symbol").count(), 0, "the refusal is gone once saved");
    // The preview draws the saved block from the stored history, with its indicator.
    const preview = page.getByTestId("blocks-preview").getByTestId("live-chart");
    await preview.locator("canvas").first().waitFor();
    assert.ok(Number(await preview.getAttribute("data-bars")) > 100);
    await page.locator('[data-testid="blocks-preview"] [data-testid="live-chart"][data-indicators="1"]').waitFor();
    await checkPage(page, "block preview");
    // Blocks are reordered and removed in the form.
    await page.locator('[data-field="new-block-kind"]').selectOption({ label: "Signal" });
    await page.getByTestId("add-block").click();
    const blocks = page.getByTestId("block-editor");
    await blocks.nth(1).getByRole("button", { name: "Move up" }).click();
    assert.deepEqual(await blocks.evaluateAll((els) => els.map((e) => e.dataset.kind)), ["signal", "chart"]);
    await blocks.nth(0).getByRole("button", { name: "Remove block 1" }).click();
    assert.deepEqual(await blocks.evaluateAll((els) => els.map((e) => e.dataset.kind)), ["chart"]);
    const withBlock = await rest("GET", `/api/authoring/courses/${course.id}`, undefined, teacher.token);
    const saved = withBlock.course.content.modules[0].lessons[0].blocks[0];
    assert.deepEqual(saved.chart, { symbol: "EURUSD", timeframe: "1h", start: "2017-11-06", end: "2017-11-15", indicators: ["rsi:14"] });
    assert.equal(saved.caption, "EURUSD in November");
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(page, "education-instructor")}`);
    throw err;
  } finally {
    await page.context().close();
  }
});

// Each payload, if it ran, would set window.__xss (or open a dialog).
const XSS_CORPUS = [
  "<script>window.__xss='script'</script>",
  "<img src=x onerror=\"window.__xss='img'\">",
  "<svg onload=\"window.__xss='svg'\"></svg>",
  "<svg><script>window.__xss='svg-script'</script></svg>",
  "<iframe src=\"javascript:parent.__xss='iframe'\"></iframe>",
  "<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>",
  "<details open ontoggle=\"window.__xss='details'\"><summary>x</summary></details>",
  "<input autofocus onfocus=\"window.__xss='focus'\">",
  "<video><source onerror=\"window.__xss='video'\"></video>",
  "<object data=\"javascript:window.__xss='object'\"></object>",
  "<embed src=\"javascript:window.__xss='embed'\">",
  "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\"></style></mglyph></table></mtext></math>",
  "<noscript><p title=\"</noscript><img src=x onerror=window.__xss='noscript'>\"></p></noscript>",
  "<form action=\"javascript:window.__xss='form'\"><button>go</button></form>",
  "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss='meta'\">",
  "<a href=\"javascript:window.__xss='raw-link'\">raw link</a>",
  "[md link](javascript:window.__xss='md-link')",
  "[entity link](&#106;avascript:window.__xss='entity')",
  "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "[title](https://example.com \"\\\" onmouseover=\\\"window.__xss='title'\")",
  "![img](javascript:window.__xss='md-image')",
  "![img](x\" onerror=\"window.__xss='md-image-attr')",
  "`<script>window.__xss='code'</script>`",
  "<style>body{background:url(\"javascript:window.__xss='style'\")}</style>",
].join("\n\n");

async function expectNothingRan(page, label) {
  const body = page.getByTestId("lesson-body");
  await body.waitFor();
  // Hover and click every link and button the content produced (none may run anything).
  for (const link of await body.locator("a, button, summary").all()) {
    await link.hover().catch(() => {});
  }
  assert.equal(await page.evaluate(() => window.__xss), undefined, `${label}: a payload ran`);
  const unsafe = await body.evaluate((root) => {
    const found = [];
    for (const el of root.querySelectorAll("*")) {
      if (["SCRIPT", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "STYLE", "FORM", "META", "IMG", "VIDEO"].includes(el.tagName.toUpperCase()))
        found.push(el.tagName);
      for (const attr of el.attributes) {
        if (/^on/i.test(attr.name) || /^\s*(javascript|data|vbscript):/i.test(attr.value)) found.push(`${el.tagName}[${attr.name}]`);
      }
    }
    return found;
  });
  assert.deepEqual(unsafe, [], `${label}: unsafe markup in the lesson`);
  // The payloads are shown as text, not dropped silently.
  assert.match(await body.innerText(), /<script>window.__xss='script'<\/script>/);
}

test("lesson markdown carrying an XSS corpus runs no script, with or without the CSP", async (t) => {
  const teacher = await instructor();
  const course = await publishedCourse(teacher, `XSS corpus ${Date.now().toString(36)}`, [lesson("xss", "Corpus", XSS_CORPUS)]);
  const learner = await verifiedUser("xss");
  await rest("POST", `/api/learning/courses/${course.id}/enrollment`, {}, await tokenOf(learner));
  const withCsp = await openPage(browser);
  // A profile without the CSP the tests add: only the sanitiser stands between content and DOM.
  const bare = await browser.newContext();
  const dialogs = [];
  try {
    for (const [page, label] of [
      [withCsp, "with CSP"],
      [await bare.newPage(), "without CSP"],
    ]) {
      page.on("dialog", (d) => {
        dialogs.push(`${label}: ${d.message()}`);
        void d.dismiss();
      });
      await signIn(page, learner.email, learner.password);
      await page.waitForURL(`${PAGE}/account`);
      await page.goto(`${PAGE}/courses/${course.slug}/lessons/xss`);
      await expectNothingRan(page, label);
      // The author's preview renders the same way.
    }
    assert.deepEqual(dialogs, []);
    await checkPage(withCsp, "xss lesson"); // no CSP violation: nothing even tried to run inline
  } catch (err) {
    t.diagnostic(`screenshot: ${await failureScreenshot(withCsp, "education-xss")}`);
    throw err;
  } finally {
    await withCsp.context().close();
    await bare.close();
  }
});
