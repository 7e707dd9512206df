-- Argo CD health of a kinfer ModelDeployment (Lua 5.1, as Argo CD's gopher-lua runs it: only the
-- base, table, package and a safe os library are open, so no string.* or math.* here).
-- Healthy only when the operator has seen the current generation and Ready is True;
-- Degraded when Degraded is True; Progressing otherwise, including no status at all.
local hs = {}

local function condition(conditions, type)
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
if status == nil or status.conditions == nil or #status.conditions == 0 then
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

local degraded = condition(status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "Degraded")
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = tostring(status.readyReplicas or 0) .. "/" .. tostring(obj.spec.replicas or status.replicas or 0) .. " replicas ready"
  return hs
end

hs.status = "Progressing"
local progressing = condition(status.conditions, "Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.message = describe(progressing, "Rolling out")
else
  hs.message = describe(ready, "Waiting for the Ready condition")
end
return hs
