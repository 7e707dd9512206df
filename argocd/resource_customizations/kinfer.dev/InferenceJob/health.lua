-- Argo CD health of a kinfer InferenceJob (Lua 5.1, as Argo CD's gopher-lua runs it: only the base,
-- table, package and a safe os library are open, so no string.* or math.* here).
-- Healthy when the job Succeeded; Degraded when it Failed (or Degraded is True);
-- Progressing while it waits or runs, and whenever the status is missing or not of this generation.
local hs = {}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  if text == "" then
    return fallback
  end
  return text
end

local status = obj.status
if status == nil or ((status.conditions == nil or #status.conditions == 0) and status.phase == nil) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local succeeded = condition(status.conditions, "Succeeded")
local degraded = condition(status.conditions, "Degraded")
if (succeeded ~= nil and succeeded.status == "False") or status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(succeeded, "Job failed")
  return hs
end
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "Degraded")
  return hs
end

if (succeeded ~= nil and succeeded.status == "True") or (succeeded == nil and status.phase == "Succeeded") then
  hs.status = "Healthy"
  -- The operator's own summary (images classified, accuracy): formatted in TypeScript, because
  -- Argo CD opens no string or math library for argocd-cm scripts unless useOpenLibs is set.
  hs.message = describe(succeeded, "Succeeded")
  return hs
end

hs.status = "Progressing"
if status.progress ~= nil and status.progress.total ~= nil and status.progress.total > 0 then
  hs.message = (status.phase or "Running") .. ": " .. tostring(status.progress.processed or 0) .. "/" ..
    tostring(status.progress.total) .. " images (" .. tostring(status.progress.percent or 0) .. "%)"
else
  hs.message = describe(condition(status.conditions, "Ready"), status.phase or "Pending")
end
return hs
