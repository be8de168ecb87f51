// CloudSync administration page. Talks to the public API v1 like any other client: signs in
// through /1/auth/ (both steps), keeps the session token in sessionStorage and sends it as a
// Bearer header.
"use strict";

const TOKEN_KEY = "cloudsync.session_token";
const POLICY_NUMBERS = ["api_token_hours", "password_min_length", "max_failed_logins",
  "lockout_minutes", "share_link_max_days", "default_user_quota"];
const POLICY_FLAGS = ["require_two_step", "share_links_enabled"];
const CHANNEL_HINTS = {
  email: "We sent a 6-digit code to your email address. Enter it to finish signing in.",
  sms: "We sent a 6-digit code to your phone by SMS. Enter it to finish signing in.",
  authenticator: "Enter the 6-digit code shown by your authenticator app.",
};

const $ = (id) => document.getElementById(id);

async function api(path, params = {}, options = {}) {
  const headers = { "Content-Type": "application/x-www-form-urlencoded" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && !options.anonymous) headers.Authorization = "Bearer " + token;
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers,
      body: new URLSearchParams(params).toString(),
      credentials: "same-origin",
    });
  } catch (error) {
    return { status: 0, body: { success: false, message: "The server cannot be reached." } };
  }
  let body;
  try {
    body = await response.json();
  } catch (error) {
    body = { success: false, message: "The server sent an unreadable answer." };
  }
  return { status: response.status, body };
}

function show(id, visible) {
  $(id).hidden = !visible;
}

// ---- Sign-in ----

let pendingTwoStep = false;

async function onSignIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.textContent = "";
  const params = { username: $("username").value.trim(), password: $("password").value };
  if (pendingTwoStep) params.auth_code = $("auth-code").value.trim();
  $("sign-in-button").disabled = true;
  const { status, body } = await api("/1/auth/", params, { anonymous: true });
  $("sign-in-button").disabled = false;
  if (status === 200 && body.success) {
    sessionStorage.setItem(TOKEN_KEY, body.session_token);
    pendingTwoStep = false;
    $("password").value = "";
    $("auth-code").value = "";
    await enterConsole();
    return;
  }
  if (status === 401 && body.two_step_mode && !pendingTwoStep) {
    pendingTwoStep = true;
    $("code-hint").textContent = CHANNEL_HINTS[body.two_step_mode] || "Enter your code.";
    show("credentials", false);
    show("second-step", true);
    $("sign-in-button").textContent = "Verify";
    $("auth-code").focus();
    return;
  }
  error.textContent = body.message || "Sign-in failed.";
  if (pendingTwoStep && status !== 401) resetSignIn();
}

function resetSignIn() {
  pendingTwoStep = false;
  show("credentials", true);
  show("second-step", false);
  $("sign-in-button").textContent = "Sign in";
}

async function signOut() {
  if (sessionStorage.getItem(TOKEN_KEY)) await api("/1/auth/logout/");
  sessionStorage.removeItem(TOKEN_KEY);
  resetSignIn();
  show("console", false);
  show("refusal", false);
  show("who", false);
  show("sign-in", true);
  $("username").focus();
}

// ---- The console ----

let account = null;

async function enterConsole() {
  const { status, body } = await api("/1/account/info/");
  if (status !== 200) {
    sessionStorage.removeItem(TOKEN_KEY);
    show("sign-in", true);
    if (status !== 401) $("sign-in-error").textContent = body.message || "Cannot read your account.";
    return;
  }
  account = body;
  show("sign-in", false);
  if (account.role !== "system_admin" && account.role !== "org_admin") {
    // Plain users may not manage the server: drop their session at once.
    await api("/1/auth/logout/");
    sessionStorage.removeItem(TOKEN_KEY);
    show("refusal", true);
    $("refusal-back").focus();
    return;
  }
  $("who-name").textContent = account.display_name + " (" + account.role.replace("_", " ") + ")";
  show("who", true);
  show("console", true);
  selectTab("overview");
}

function selectTab(name) {
  for (const tab of ["overview", "settings"]) {
    const selected = tab === name;
    $("tab-" + tab).setAttribute("aria-selected", String(selected));
    $("tab-" + tab).tabIndex = selected ? 0 : -1;
    show("panel-" + tab, selected);
  }
  if (name === "overview") loadOverview();
}

function onTabKey(event) {
  if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
  const next = event.target.id === "tab-overview" ? "settings" : "overview";
  selectTab(next);
  $("tab-" + next).focus();
}

// ---- Overview: storage chart and newest activity ----

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "unlimited";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
}

async function loadOverview() {
  const chart = $("storage-chart");
  let organizations = [];
  if (account.role === "system_admin") {
    const { status, body } = await api("/1/organizations/", { limit: "1000" });
    if (status === 200) organizations = body.results;
  } else {
    const { status, body } = await api("/1/organization/" + account.organization_id + "/");
    if (status === 200) organizations = [body];
  }
  chart.replaceChildren();
  if (organizations.length === 0) {
    chart.textContent = "No storage figures are available.";
  }
  const largest = Math.max(1, ...organizations.map((org) => org.space_used || 0));
  for (const org of organizations) {
    const row = document.createElement("div");
    row.className = "chart-row";
    const name = document.createElement("span");
    name.textContent = org.name;
    const track = document.createElement("div");
    track.className = "chart-track";
    track.setAttribute("role", "img");
    track.setAttribute("aria-label", org.name + ": " + formatBytes(org.space_used));
    const fill = document.createElement("div");
    fill.className = "chart-fill";
    fill.style.width = ((100 * (org.space_used || 0)) / largest).toFixed(1) + "%";
    track.append(fill);
    const value = document.createElement("span");
    value.className = "chart-value";
    value.textContent = formatBytes(org.space_used) +
      (org.space_quota ? " of " + formatBytes(org.space_quota) : "");
    row.append(name, track, value);
    chart.append(row);
  }

  const list = $("activity-list");
  const path = account.role === "system_admin"
    ? "/1/activity/all/"
    : "/1/activity/organization/" + account.organization_id + "/";
  const { status, body } = await api(path, { limit: "10" });
  list.replaceChildren();
  if (status !== 200) {
    const item = document.createElement("li");
    item.textContent = body.message || "The activity log cannot be read.";
    list.append(item);
    return;
  }
  for (const entry of body.results) {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = entry.created;
    time.textContent = entry.created.replace("T", " ").replace("Z", "");
    const text = document.createElement("span");
    text.textContent = entry.action + (entry.actor_username ? " by " + entry.actor_username : "") +
      (entry.path ? " " + entry.path : "");
    item.append(time, text);
    list.append(item);
  }
}

// ---- Settings: policies ----

function clearPolicyErrors() {
  for (const element of document.querySelectorAll(".field-error")) element.textContent = "";
  $("policies-status").textContent = "";
  $("policies-status").classList.remove("failed");
}

function fillPolicies(policies) {
  for (const name of POLICY_NUMBERS) {
    $(name).value = policies[name] === null || policies[name] === undefined ? "" : policies[name];
  }
  for (const name of POLICY_FLAGS) $(name).checked = Boolean(policies[name]);
}

async function openPolicies() {
  clearPolicyErrors();
  const { status, body } = await api("/1/policies/");
  show("policies-form", true);
  if (status !== 200) {
    $("policies-status").textContent = body.message || "The policies cannot be read.";
    $("policies-status").classList.add("failed");
    return;
  }
  fillPolicies(body);
  const readOnly = account.role !== "system_admin";
  show("policies-readonly", readOnly);
  $("save-policies").disabled = readOnly;
  for (const name of POLICY_NUMBERS.concat(POLICY_FLAGS)) $(name).disabled = readOnly;
  $("api_token_hours").focus();
}

async function savePolicies(event) {
  event.preventDefault();
  clearPolicyErrors();
  const params = {};
  for (const name of POLICY_NUMBERS) params[name] = $(name).value.trim();
  for (const name of POLICY_FLAGS) params[name] = $(name).checked ? "true" : "false";
  $("save-policies").disabled = true;
  const { status, body } = await api("/1/policies/update/", params);
  $("save-policies").disabled = false;
  if (status === 200 && body.success) {
    fillPolicies(body);
    $("policies-status").textContent = "Saved.";
    return;
  }
  const message = body.message || "The policies were not saved.";
  const field = POLICY_NUMBERS.concat(POLICY_FLAGS).find((name) => message.includes("'" + name + "'"));
  if (field) {
    $(field + "-error").textContent = message;
    $(field).setAttribute("aria-invalid", "true");
    $(field).focus();
  }
  $("policies-status").textContent = field ? "Not saved: see the marked field." : message;
  $("policies-status").classList.add("failed");
}

function onPolicyInput(event) {
  event.target.removeAttribute("aria-invalid");
  const error = $(event.target.id + "-error");
  if (error) error.textContent = "";
}

// ---- Start ----

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", signOut);
  $("refusal-back").addEventListener("click", signOut);
  $("tab-overview").addEventListener("click", () => selectTab("overview"));
  $("tab-settings").addEventListener("click", () => selectTab("settings"));
  $("tab-overview").addEventListener("keydown", onTabKey);
  $("tab-settings").addEventListener("keydown", onTabKey);
  $("open-policies").addEventListener("click", openPolicies);
  $("policies-form").addEventListener("submit", savePolicies);
  $("policies-form").addEventListener("input", onPolicyInput);
  if (sessionStorage.getItem(TOKEN_KEY)) {
    enterConsole();
  } else {
    $("username").focus();
  }
});
