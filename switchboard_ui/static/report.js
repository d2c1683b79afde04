// The service-level report (GET /report): asks GET /api/report for the period, interval
// and queue of the form and shows the totals, four uPlot charts (static/vendor/uplot)
// and a table with a row per interval. Every time is written in the report's time zone
// (the reply's "timezone", else the page's data-timezone), never the browser's. An
// error reply is shown in #report-error; nothing here throws at the page.
"use strict";
{
  const t = window.t;
  const lang = document.documentElement.lang === "nl" ? "nl" : "en";
  const page = document.getElementById("report");
  const form = document.getElementById("report-form");
  const csv = document.getElementById("report-csv");
  const zoneHint = document.getElementById("report-zone");
  const errorBox = document.getElementById("report-error");
  const status = document.getElementById("report-status");
  const results = document.getElementById("report-results");
  const period = document.getElementById("report-period");
  const summary = document.getElementById("report-summary");
  const table = document.getElementById("report-table");
  const containers = {
    arrivals: document.getElementById("chart-arrivals"),
    waits: document.getElementById("chart-waits"),
    serviceLevel: document.getElementById("chart-service-level"),
    callbacks: document.getElementById("chart-callbacks"),
  };

  const FIELDS = ["from", "to", "interval", "queue"];
  const FIELD_LABELS = {
    from: t("From"), to: t("To (not including)"), interval: t("Interval"), queue: t("Queue"),
  };
  const NOMINAL_S = { "15min": 900, hour: 3600, day: 86400, week: 7 * 86400 };
  const DASH = "–";
  const CHART_HEIGHT = 220;
  const FONT = "13px system-ui, sans-serif";
  const INK = "#333";
  const GRID = "#e4e4e4";
  const COLOURS = {
    arrivals: "#9db4d6", answered: "#1a56db", level: "#1a56db", target: "#b36b00",
    within: "#1b6e20", later: "#b36b00", p50: "#1a56db", p90: "#b36b00",
  };

  const integer = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const charts = new Map(); // container -> uPlot
  let running = null; // the AbortController of the request in flight

  // --- numbers and durations ---------------------------------------------------------

  const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
  const count = (value) => (isNumber(value) ? integer.format(value) : DASH);
  /** A fraction (0.6667) as "66.7%" ("66,7%" in Dutch); a dash for null. */
  const percent = (fraction) => (isNumber(fraction) ? `${decimal.format(fraction * 100)}%` : DASH);

  /** Seconds as m:ss (h:mm:ss from an hour on); a dash for null. */
  function clock(seconds) {
    if (!isNumber(seconds)) return DASH;
    const whole = Math.max(0, Math.round(seconds));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  /** How old a worklist item is, in words: "45 s", "12 min", "1 h 30 min", "2 d 3 h". */
  function age(seconds) {
    const whole = Math.max(0, Math.round(seconds));
    if (whole < 60) return t("{s} s", { s: whole });
    const minutes = Math.floor(whole / 60);
    if (minutes < 60) return t("{m} min", { m: minutes });
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return t("{h} h {m} min", { h: hours, m: minutes % 60 });
    return t("{d} d {h} h", { d: Math.floor(hours / 24), h: hours % 24 });
  }

  // --- times in the report's zone ----------------------------------------------------

  function validZone(zone) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: zone });
      return zone;
    } catch {
      return null;
    }
  }

  /** Formatters for one time zone; every one takes epoch seconds. */
  function zoneFormats(timeZone) {
    const numeric = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric",
    });
    const stamp = new Intl.DateTimeFormat(lang, {
      timeZone, hourCycle: "h23", day: "numeric", month: lang === "nl" ? "numeric" : "short",
      year: "numeric", hour: "2-digit", minute: "2-digit",
    });
    const time = new Intl.DateTimeFormat(lang, {
      timeZone, hourCycle: "h23", hour: "2-digit", minute: "2-digit",
    });
    const dayName = new Intl.DateTimeFormat(lang, {
      timeZone, weekday: "short", day: "numeric", month: "short",
    });
    const dayMonth = new Intl.DateTimeFormat(lang, { timeZone, day: "numeric", month: "short" });
    const zoneName = new Intl.DateTimeFormat(lang, { timeZone, timeZoneName: "short" });
    const partsOf = (format, seconds) => {
      const parts = {};
      for (const part of format.formatToParts(seconds * 1000)) parts[part.type] = part.value;
      return parts;
    };
    return {
      /** {year, month, day, hour, minute} as numbers, in the zone. */
      local(seconds) {
        const p = partsOf(numeric, seconds);
        const weekday = new Date(Date.UTC(+p.year, +p.month - 1, +p.day)).getUTCDay(); // 1 Monday
        return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour % 24, minute: +p.minute, weekday };
      },
      /** "1-12-2026 07:00" (nl), "1 Dec 2026 07:00" (en); without the time if asked. */
      stamp(seconds, withTime = true) {
        const p = partsOf(stamp, seconds);
        const date = lang === "nl" ? `${p.day}-${p.month}-${p.year}` : `${p.day} ${p.month} ${p.year}`;
        return withTime ? `${date} ${p.hour}:${p.minute}` : date;
      },
      /** "07:00". */
      time(seconds) {
        const p = partsOf(time, seconds);
        return `${p.hour}:${p.minute}`;
      },
      /** "Tue 1 Dec", "di 1 dec". */
      day(seconds) {
        const p = partsOf(dayName, seconds);
        return `${p.weekday} ${p.day} ${p.month}`.replace(/\.(?= )/g, "");
      },
      /** "CET", "CEST": tells apart the two 02:00 of the night summer time ends. */
      zone(seconds) {
        return partsOf(zoneName, seconds).timeZoneName || "";
      },
      /** "1 Dec", "1 dec". */
      dayMonth(seconds) {
        const p = partsOf(dayMonth, seconds);
        return `${p.day} ${p.month}`;
      },
    };
  }

  // --- the form, its address and the CSV link ----------------------------------------

  function query() {
    const params = new URLSearchParams();
    for (const name of FIELDS) {
      const value = String(form.elements[name].value || "").trim();
      if (value || name !== "queue") params.set(name, value);
    }
    return params.toString();
  }

  function updateCsvLink() {
    csv.href = `/api/report.csv?${query()}`;
  }

  /** An interval that keeps the charts readable for the default period. */
  function suggestedInterval() {
    const days = (Date.parse(form.elements.to.value) - Date.parse(form.elements.from.value)) / 864e5;
    if (!Number.isFinite(days) || days <= 3) return "hour";
    return days <= 62 ? "day" : "week";
  }

  /** A bookmarked or reloaded /report?from=…&to=… shows that report again. */
  function adoptAddress() {
    const params = new URLSearchParams(window.location.search);
    for (const name of FIELDS) {
      if (!params.has(name)) continue;
      const field = form.elements[name];
      const value = params.get(name);
      if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === value)) continue;
      field.value = value;
    }
    if (!params.has("interval")) form.elements.interval.value = suggestedInterval();
  }

  // --- errors ------------------------------------------------------------------------

  function showError(messages) {
    errorBox.replaceChildren();
    if (messages.length === 1) {
      errorBox.textContent = messages[0];
    } else if (messages.length > 1) {
      const list = document.createElement("ul");
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = message;
        list.append(item);
      }
      errorBox.append(list);
    }
  }

  function markInvalid(fields) {
    for (const name of FIELDS) {
      const field = form.elements[name];
      if (fields.includes(name)) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }
  }

  /** The messages of an error reply: its "error", else each of its "errors". */
  function problems(response, body) {
    if (body && typeof body.error === "string" && body.error) return [body.error];
    if (body && body.errors && typeof body.errors === "object") {
      const messages = Object.entries(body.errors).map(([field, message]) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message);
        return field in FIELD_LABELS ? `${FIELD_LABELS[field]}: ${text}` : text;
      });
      if (messages.length) return messages;
    }
    if (response.ok) return [t("The server's answer is not a report.")];
    return [t("The report could not be made (HTTP {status}).", { status: response.status })];
  }

  // --- loading -----------------------------------------------------------------------

  async function load() {
    const search = query();
    updateCsvLink();
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    showError([]);
    markInvalid([]);
    status.textContent = t("Loading…");
    page.setAttribute("aria-busy", "true");
    const finish = () => {
      if (running !== controller) return false;
      running = null;
      status.textContent = "";
      page.removeAttribute("aria-busy");
      return true;
    };
    let response;
    let body = null;
    try {
      response = await fetch(`/api/report?${search}`, {
        credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal,
      });
      try {
        body = await response.json();
      } catch {
        body = null;
      }
    } catch {
      if (finish()) {
        results.hidden = true;
        showError([t("The server could not be reached: try again.")]);
      }
      return;
    }
    if (!finish()) return; // a newer request took over
    const fine = response.ok && body && typeof body === "object" && Array.isArray(body.rows);
    if (!fine) {
      results.hidden = true;
      showError(problems(response, body));
      if (body && body.errors && typeof body.errors === "object") markInvalid(Object.keys(body.errors));
      return;
    }
    try {
      render(body, new URLSearchParams(search).get("queue") || "");
    } catch (error) {
      results.hidden = true;
      showError([t("The report could not be shown: {reason}", { reason: error && error.message })]);
    }
  }

  // --- rendering ---------------------------------------------------------------------

  /** A list item from a translated sentence, its {values} in bold. */
  function sentence(template, values, className = "") {
    const item = document.createElement("li");
    if (className) item.className = className;
    template.split(/\{(\w+)\}/).forEach((piece, index) => {
      if (index % 2 === 0) {
        if (piece) item.append(piece);
      } else {
        const strong = document.createElement("strong");
        strong.textContent = piece in values ? String(values[piece]) : `{${piece}}`;
        item.append(strong);
      }
    });
    return item;
  }

  /** The interval of every row in epoch seconds: start, end and middle. */
  function intervals(reply, rows) {
    const nominal = NOMINAL_S[reply.interval] || 3600;
    const from = Date.parse(reply.from) / 1000;
    const to = Date.parse(reply.to) / 1000;
    const starts = rows.map((row) => Date.parse(row.start) / 1000);
    const ends = starts.map((start, i) => {
      const next = i + 1 < starts.length ? starts[i + 1] : to;
      // The next start ends this interval unless rows are missing in between; a day
      // across a change of summer time is 23 or 25 hours.
      const end = next > start && next - start <= nominal + 3600 ? next : start + nominal;
      return Number.isFinite(to) ? Math.min(end, Math.max(to, start)) : end;
    });
    const mids = starts.map((start, i) => (start + ends[i]) / 2);
    const first = Number.isFinite(from) ? from : starts[0] ?? 0;
    const last = Number.isFinite(to) && to > first ? to : ends[ends.length - 1] ?? first + nominal;
    return { starts, ends, mids, from: first, to: last, interval: reply.interval };
  }

  function render(reply, queue) {
    const rows = reply.rows;
    const total = reply.total && typeof reply.total === "object" ? reply.total : {};
    const zone = validZone(reply.timezone) || validZone(page.dataset.timezone) || "UTC";
    const formats = zoneFormats(zone);
    const span = intervals(reply, rows);
    span.locals = span.starts.map((start) => formats.local(start)); // asked for at every redraw
    const byDate = reply.interval === "day" || reply.interval === "week";
    const labelOf = (seconds) => formats.stamp(seconds, !byDate);
    const rowLabels = span.starts.map(labelOf);
    const seen = new Map();
    for (const label of rowLabels) seen.set(label, (seen.get(label) || 0) + 1);
    rowLabels.forEach((label, i) => {
      if (seen.get(label) > 1) rowLabels[i] = `${label} ${formats.zone(span.starts[i])}`;
    });
    // the legend under a chart names the whole interval: "1 Dec 2026 07:00–08:00"
    const legendLabels = rowLabels.map((label, i) => (byDate ? label : `${label}–${formats.time(span.ends[i])}`));
    const within = isNumber(reply.answer_within_s) ? reply.answer_within_s : 15;
    const short = isNumber(reply.short_abandon_s) ? reply.short_abandon_s : 5;
    const target = isNumber(reply.target) ? reply.target : null;

    results.hidden = false;
    zoneHint.textContent = t("Times are in {timezone}.", { timezone: zone });
    period.textContent = t("{start} to {end} (not including), {queues}", {
      start: formats.stamp(span.from, false),
      end: formats.stamp(span.to, false),
      queues: queue ? t("queue {queue}", { queue }) : t("all queues"),
    });
    renderSummary(total, reply, within, short, target);
    renderCharts(reply, rows, span, formats, labelOf, legendLabels, within, target);
    renderTable(rows, total, rowLabels, within, short, target);
    status.textContent = rows.length ? "" : t("No intervals in this period.");
  }

  function renderSummary(total, reply, within, shortWithin, target) {
    const items = [];
    items.push(sentence(t("Calls: {arrivals}, answered: {answered}"), {
      arrivals: count(total.arrivals), answered: count(total.answered),
    }));
    const level = total.service_level;
    const met = isNumber(level) && target != null ? (level >= target ? "met" : "missed") : "";
    items.push(sentence(t("Answered within {s} s: {pct} (target {target})"), {
      s: within, pct: percent(level), target: percent(target),
    }, met));
    // the rate's denominator is the counted calls: a caller who hung up within
    // short_abandon_s counts neither way (switchboard.core.service_level)
    const shortOnes = isNumber(total.short_abandons) ? total.short_abandons : 0;
    const counted = isNumber(total.arrivals) ? total.arrivals - shortOnes : null;
    const abandon = { pct: percent(total.abandon_rate), n: count(total.abandoned), counted: count(counted) };
    items.push(shortOnes > 0
      ? sentence(t("Abandon rate: {pct} ({n} of {counted} calls; {short} who hung up within {s} s not counted)"), {
        ...abandon, short: count(shortOnes), s: shortWithin,
      })
      : sentence(t("Abandon rate: {pct} ({n} of {counted} calls)"), abandon));
    items.push(sentence(t("Callbacks reached: {reached} of {requested}"), {
      reached: count(total.callbacks_reached), requested: count(total.callbacks_requested),
    }));
    items.push(sentence(t("Time to reach a callback: median {p50}, p90 {p90}"), {
      p50: clock(total.callback_p50_s), p90: clock(total.callback_p90_s),
    }));
    const worklist = reply.worklist && typeof reply.worklist === "object" ? reply.worklist : {};
    if (isNumber(worklist.oldest_s) && worklist.open > 0) {
      items.push(sentence(t("Missed calls open on the worklist: {n}, the oldest for {age}"), {
        n: count(worklist.open), age: age(worklist.oldest_s),
      }));
    } else {
      items.push(sentence(t("Missed calls open on the worklist: {n}"), { n: count(worklist.open ?? 0) }));
    }
    summary.replaceChildren(...items);
  }

  // --- charts ------------------------------------------------------------------------

  /** The rows that get a tick on a time axis, so that labels never crowd. */
  const STEPS = {
    "15min": [1, 2, 4, 8, 12, 16, 24, 48, 96, 192, 288, 672],
    hour: [1, 2, 3, 4, 6, 12, 24, 48, 72, 168, 336, 720],
    day: [1, 2, 7, 14, 28, 56, 91, 182, 364],
    week: [1, 2, 4, 8, 13, 26, 52],
  };

  function timeTicks(plotWidth, span, formats) {
    const n = span.starts.length;
    const byDate = span.interval === "day" || span.interval === "week";
    const fits = Math.max(1, Math.floor(plotWidth / (byDate ? 76 : 54)));
    const steps = STEPS[span.interval] || [1];
    const step = steps.find((k) => Math.ceil(n / k) <= fits) ?? Math.ceil(n / fits);
    const values = [];
    const labels = new Map();
    if (byDate) {
      // a label under the middle of its day or week; the year under the first tick and
      // under the first of a new year
      let lastYear = null;
      let first = 0; // days a week or more apart: on Mondays, as the report's weeks
      if (span.interval === "day" && step % 7 === 0) {
        while (first < n - 1 && first < 6 && span.locals[first].weekday !== 1) first += 1;
      }
      for (let i = first; i < n; i += step) {
        const at = span.mids[i];
        const local = span.locals[i];
        let label = span.interval === "day" && step < 7 ? formats.day(span.starts[i]) : formats.dayMonth(span.starts[i]);
        if (local.year !== lastYear) label += `\n${local.year}`;
        lastYear = local.year;
        values.push(at);
        labels.set(at, label);
      }
      return { values, labels };
    }
    // a tick at the start of an interval on a round local time; the date under the first
    // tick of each day when the report spans more than one day
    const minutes = (NOMINAL_S[span.interval] / 60) * step;
    const dateOf = (local) => `${local.year}-${local.month}-${local.day}`;
    const several = n > 0 && dateOf(span.locals[0]) !== dateOf(span.locals[n - 1]);
    let dayCount = -1;
    let lastDate = null;
    let lastTickDate = null;
    for (let i = 0; i < n; i++) {
      const local = span.locals[i];
      const date = dateOf(local);
      if (date !== lastDate) dayCount += 1;
      lastDate = date;
      const ofDay = local.hour * 60 + local.minute;
      const round = minutes <= 1440 ? ofDay % minutes === 0 : ofDay === 0 && dayCount % (minutes / 1440) === 0;
      if (!round) continue;
      const at = span.starts[i];
      let label = formats.time(at);
      if (several && date !== lastTickDate) label += `\n${formats.day(at)}`;
      lastTickDate = date;
      values.push(at);
      labels.set(at, label);
    }
    return { values, labels };
  }

  const axisStyle = {
    stroke: INK, font: FONT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1, size: 5 },
  };

  function timeAxis(span, formats) {
    let labels = new Map();
    return {
      ...axisStyle,
      size: 50,
      splits: (u) => {
        const ticks = timeTicks(u.width - 80, span, formats);
        labels = ticks.labels;
        return ticks.values;
      },
      values: (u, splits) => splits.map((value) => labels.get(value) ?? ""),
    };
  }

  /** y from 0 to a little over the largest value, at least ``least``. */
  const fromZero = (least) => (u, min, max) => {
    const top = isNumber(max) && max > 0 ? max : least;
    return [0, Math.max(least, uPlot.rangeNum(0, top, 0.1, true)[1])];
  };

  const COUNT_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000];
  const SECOND_INCRS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];

  function countAxis() {
    return { ...axisStyle, size: 56, incrs: COUNT_INCRS, values: (u, splits) => splits.map((v) => integer.format(v)) };
  }

  function baseOptions(xLabel, legendX, barChart = false) {
    return {
      height: CHART_HEIGHT,
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { show: !barChart, size: 7 } },
      scales: { x: { time: false } },
      series: [{ label: xLabel, value: legendX }],
    };
  }

  function draw(container, options, data) {
    const width = Math.max(240, Math.floor(container.clientWidth));
    charts.set(container, new uPlot({ ...options, width }, data, container));
  }

  function renderCharts(reply, rows, span, formats, labelOf, legendLabels, within, target) {
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    const column = (field) => rows.map((row) => (isNumber(row[field]) ? row[field] : null));
    const rowLabel = (u, value, seriesIndex, index) => (index == null ? DASH : legendLabels[index] ?? DASH);
    const xRange = () => [span.from, span.to];
    const dot = rows.length > 150 ? 4 : 6; // smaller points where there are many
    const bars = (align) => uPlot.paths.bars({ size: [0.42, 48, 1], align });

    // (a) arrivals and answered, side by side in their interval
    const arrivals = baseOptions(t("Interval"), rowLabel, true);
    arrivals.scales.x.range = xRange;
    arrivals.scales.y = { range: fromZero(1) };
    arrivals.axes = [timeAxis(span, formats), countAxis()];
    arrivals.series.push(
      { label: t("Arrivals"), fill: COLOURS.arrivals, stroke: COLOURS.arrivals, width: 0, paths: bars(-1), points: { show: false }, value: (u, v) => count(v) },
      { label: t("Answered"), fill: COLOURS.answered, stroke: COLOURS.answered, width: 0, paths: bars(1), points: { show: false }, value: (u, v) => count(v) },
    );
    draw(containers.arrivals, arrivals, [span.mids, column("arrivals"), column("answered")]);

    // (b) waits of the answered calls, in buckets; green ones are within the answer time
    const waits = reply.waits && typeof reply.waits === "object" ? reply.waits : {};
    const edges = Array.isArray(waits.edges_s) ? waits.edges_s : [];
    const counts = Array.isArray(waits.counts) ? waits.counts : [];
    const buckets = counts.map((_, i) => i);
    const upper = (i) => (i + 1 < edges.length ? edges[i + 1] : Infinity);
    const bucketName = buckets.map((i) => bucketLabel(edges[i], i + 1 < edges.length ? edges[i + 1] : null));
    const answered = counts.reduce((sum, n) => sum + (isNumber(n) ? n : 0), 0);
    const share = (u, v) => (isNumber(v) ? `${count(v)} (${percent(answered ? v / answered : null)})` : DASH);
    const wait = baseOptions(t("Wait"), (u, value, s, index) => (index == null ? DASH : bucketName[index] ?? DASH), true);
    wait.scales.x.range = () => [-0.5, Math.max(buckets.length, 1) - 0.5];
    wait.scales.y = { range: fromZero(1) };
    wait.axes = [
      { ...axisStyle, size: 36, grid: { show: false }, splits: () => buckets, values: () => bucketName },
      countAxis(),
    ];
    const bucketBars = uPlot.paths.bars({ size: [0.75, 80, 1], align: 0 });
    wait.series.push(
      { label: t("Answered within {s} s", { s: within }), fill: COLOURS.within, stroke: COLOURS.within, width: 0, paths: bucketBars, points: { show: false }, value: share },
      { label: t("Answered later"), fill: COLOURS.later, stroke: COLOURS.later, width: 0, paths: bucketBars, points: { show: false }, value: share },
    );
    draw(containers.waits, wait, [
      buckets,
      counts.map((n, i) => (upper(i) <= within && isNumber(n) ? n : null)),
      counts.map((n, i) => (upper(i) > within && isNumber(n) ? n : null)),
    ]);

    // (c) service level, with the target as a flat line across the whole period
    const edgeLabel = (u, value, s, index) => {
      if (index == null) return DASH;
      if (index === 0) return labelOf(span.from);
      if (index > rows.length) return labelOf(span.to);
      return legendLabels[index - 1];
    };
    const level = baseOptions(t("Interval"), edgeLabel);
    level.scales.x.range = xRange;
    level.scales.y = { range: [0, 100] };
    level.axes = [
      timeAxis(span, formats),
      { ...axisStyle, size: 56, incrs: [10, 20, 25, 50], values: (u, splits) => splits.map((v) => `${integer.format(v)}%`) },
    ];
    const asPercent = (u, v) => (isNumber(v) ? `${decimal.format(v)}%` : DASH);
    level.series.push(
      { label: t("Service level"), stroke: COLOURS.level, width: 2, points: { show: true, size: dot, fill: COLOURS.level }, value: asPercent },
      { label: t("Target"), stroke: COLOURS.target, width: 2, dash: [8, 5], points: { show: false }, value: asPercent },
    );
    const levels = column("service_level").map((v) => (v == null ? null : v * 100));
    const targetLine = target == null ? null : target * 100;
    draw(containers.serviceLevel, level, [
      [span.from, ...span.mids, span.to],
      [null, ...levels, null],
      [targetLine, ...span.mids.map(() => targetLine), targetLine],
    ]);

    // (d) time to reach a callback: median and 90th percentile
    const speed = baseOptions(t("Interval"), rowLabel);
    speed.scales.x.range = xRange;
    speed.scales.y = { range: fromZero(60) };
    speed.axes = [
      timeAxis(span, formats),
      { ...axisStyle, size: 60, incrs: SECOND_INCRS, values: (u, splits) => splits.map(clock) },
    ];
    speed.series.push(
      { label: t("Median (p50)"), stroke: COLOURS.p50, width: 2, points: { show: true, size: dot, fill: COLOURS.p50 }, value: (u, v) => clock(v) },
      { label: t("p90"), stroke: COLOURS.p90, width: 2, dash: [8, 5], points: { show: true, size: dot, fill: COLOURS.p90 }, value: (u, v) => clock(v) },
    );
    draw(containers.callbacks, speed, [span.mids, column("callback_p50_s"), column("callback_p90_s")]);
  }

  /** "0–5 s", "1–2 min", "≥5 min": minutes once both edges are whole minutes. */
  function bucketLabel(low, high) {
    if (!isNumber(low)) return DASH;
    const inMinutes = (value) => value >= 60 && value % 60 === 0;
    if (high == null) return inMinutes(low) ? t("≥{a} min", { a: low / 60 }) : t("≥{a} s", { a: low });
    if (inMinutes(high) && (low === 0 || inMinutes(low))) {
      return t("{a}–{b} min", { a: low / 60, b: high / 60 });
    }
    return t("{a}–{b} s", { a: low, b: high });
  }

  // --- the table ---------------------------------------------------------------------

  function renderTable(rows, total, rowLabels, within, short, target) {
    const levelCell = (value) => ({
      text: percent(value),
      className: isNumber(value) && target != null && value < target ? "below" : "",
    });
    const columns = [
      [t("Arrivals"), (r) => count(r.arrivals)],
      [t("Answered"), (r) => count(r.answered)],
      [t("Within {s} s", { s: within }), (r) => count(r.answered_in_time)],
      [t("Abandoned"), (r) => count(r.abandoned)],
      [t("Hung up within {s} s", { s: short }), (r) => count(r.short_abandons)],
      [t("Sent on"), (r) => count(r.sent_on)],
      [t("Service level"), (r) => levelCell(r.service_level)],
      [t("Abandon rate"), (r) => percent(r.abandon_rate)],
      [t("Callbacks requested"), (r) => count(r.callbacks_requested)],
      [t("Callbacks reached"), (r) => count(r.callbacks_reached)],
      [t("Time to reach p50"), (r) => clock(r.callback_p50_s)],
      [t("Time to reach p90"), (r) => clock(r.callback_p90_s)],
      [t("Told a wait"), (r) => count(r.announced)],
      [t("Waited longer than told"), (r) => count(r.overrun)],
    ];
    const cell = (tag, content) => {
      const element = document.createElement(tag);
      if (content && typeof content === "object") {
        element.textContent = content.text;
        if (content.className) element.className = content.className;
      } else {
        element.textContent = content;
      }
      return element;
    };
    const line = (label, row, labelTag) => {
      const tr = document.createElement("tr");
      const labelCell = cell(labelTag, label);
      labelCell.scope = "row";
      tr.append(labelCell, ...columns.map(([, value]) => cell("td", value(row))));
      return tr;
    };

    const head = document.createElement("thead");
    const headRow = document.createElement("tr");
    for (const name of [t("Start"), ...columns.map(([heading]) => heading)]) {
      const th = cell("th", name);
      th.scope = "col";
      headRow.append(th);
    }
    head.append(headRow);
    const body = document.createElement("tbody");
    rows.forEach((row, i) => {
      const tr = line(rowLabels[i], row, "th");
      if (!row.arrivals && !row.callbacks_requested) tr.className = "quiet";
      body.append(tr);
    });
    const foot = document.createElement("tfoot");
    foot.append(line(t("Total"), total, "th"));
    table.replaceChildren(head, body, foot);
  }

  // --- start -------------------------------------------------------------------------

  function resize(container, width) {
    const chart = charts.get(container);
    const whole = Math.floor(width);
    if (chart && whole > 0 && whole !== chart.width) chart.setSize({ width: whole, height: CHART_HEIGHT });
  }

  if (typeof ResizeObserver === "function") {
    const observer = new ResizeObserver((entries) => {
      for (const entry of entries) resize(entry.target, entry.contentRect.width);
    });
    for (const container of Object.values(containers)) observer.observe(container);
  } else {
    window.addEventListener("resize", () => {
      for (const container of Object.values(containers)) resize(container, container.clientWidth);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    window.history.replaceState(null, "", `?${query()}`);
    load();
  });
  form.addEventListener("input", updateCsvLink);
  form.addEventListener("change", updateCsvLink);

  if (typeof window.uPlot !== "function") {
    showError([t("The charts could not be loaded: reload the page.")]);
  } else {
    adoptAddress();
    load();
  }
}
