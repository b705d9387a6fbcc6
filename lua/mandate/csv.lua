--- Where CSV text becomes rows and rows become CSV text: the one dialect
-- of every table a store exports and imports (`mandate.sheets`).
--
-- Written: UTF-8 with a byte order mark, cells separated by ";" (what a
-- spreadsheet opens by double-click in decimal-comma locales), "," or a
-- tab, every record ended by CRLF, and a cell in double quotes (RFC
-- 4180, inner quotes doubled) when it holds the separator, a quote, CR
-- or LF.  Read: a BOM or none; ";", "," or a tab, given or detected
-- (the first of them in the header line); CRLF, LF or CR line ends;
-- quoted cells with line breaks and doubled quotes; empty lines are
-- skipped.
--
-- The formula guard: a cell that begins with =, +, -, @, a tab or CR is
-- written with a leading ' so that no spreadsheet takes it for a formula,
-- and reading removes a leading ' from every cell.  A cell that begins
-- with ' itself is guarded too, so that removing the guard never has to
-- guess: what is read is exactly what was written.
-- @module mandate.csv

local V = require "mandate.validate"

local M = {}

local byte, find, format, sub = string.byte, string.find, string.format, string.sub
local concat = table.concat

--- The byte order mark every export begins with.
M.BOM = "\239\187\191"

--- The separators, as `opts.sep` names them.
M.SEPARATORS = { ";", ",", "\t" }

local QUOTE, APOSTROPHE, CR, LF = byte('"'), byte("'"), byte("\r"), byte("\n")

-- first bytes a spreadsheet may read as the start of a formula, and the
-- guard itself
local GUARDED = {}
for _, c in ipairs({ "=", "+", "-", "@", "\t", "\r", "'" }) do GUARDED[byte(c)] = true end

--- Rows as CSV text: the BOM, then one record per row, each ended by
-- CRLF (a row of one empty cell as `""`: an empty line is skipped).
-- @tparam {{string,...},...} rows each a sequence of cells (strings)
-- @tparam string sep ";", "," or "\t"
-- @treturn string
function M.encode(rows, sep)
  local special = "[" .. sep .. "\"\r\n]"
  local out = { M.BOM }
  for i, row in ipairs(rows) do
    local cells = {}
    for j, cell in ipairs(row) do
      if GUARDED[byte(cell, 1)] then cell = "'" .. cell end
      if find(cell, special) then cell = '"' .. cell:gsub('"', '""') .. '"' end
      cells[j] = cell
    end
    local line = concat(cells, sep)
    if line == "" then line = '""' end      -- one empty cell, not an empty line
    out[i + 1] = line .. "\r\n"
  end
  return concat(out)
end

-- The line (from 1) of the first byte that is not valid UTF-8.
local function bad_line(text)
  local n, pos = 1, 1
  while true do
    local stop = find(text, "\n", pos, true)
    if not stop or not V.is_utf8(sub(text, pos, stop - 1)) then return n end
    n, pos = n + 1, stop + 1
  end
end

-- The separator a header line uses: the first ";", "," or tab outside
-- quotes before the first line break (";" when there is none).  The
-- first cell of every table mandate writes is a fixed name ("right",
-- "user"), so its first separator is the table's, however many commas
-- the later cells hold.
local function detect(text)
  local inside = false
  for i = 1, #text do
    local c = sub(text, i, i)
    if c == '"' then
      inside = not inside
    elseif not inside then
      if c == "\n" or c == "\r" then break end
      if c == ";" or c == "," or c == "\t" then return c end
    end
  end
  return ";"
end

-- Line breaks in s.
local function breaks(s)
  local _, n = s:gsub("\n", "")
  return n
end

--- CSV text as rows.
-- @tparam string text
-- @tparam[opt] string sep ";", "," or "\t"; nil: detected from the header
-- @treturn {{string,...},...} the rows, each a sequence of cells (the
-- formula guard removed)
-- @treturn {number,...} the line each row begins on (from 1)
-- @treturn string the separator
-- @treturn[2] nil
-- @treturn[2] string what is wrong and on which line: "line 3: ..."
function M.decode(text, sep)
  if sub(text, 1, 3) == M.BOM then text = sub(text, 4) end
  if not V.is_utf8(text) then
    return nil, format("line %d: the text is not valid UTF-8 (save the file as "
                       .. "UTF-8: in Excel \"CSV UTF-8\", in LibreOffice the "
                       .. "character set \"Unicode (UTF-8)\")", bad_line(text))
  end
  sep = sep or detect(text)
  local SEP, plain = byte(sep), "[" .. sep .. "\r\n]"
  local rows, lines = {}, {}
  local pos, n, line = 1, #text, 1
  while pos <= n do
    local c = byte(text, pos)
    if c == LF or c == CR then                      -- an empty line
      pos = pos + ((c == CR and byte(text, pos + 1) == LF) and 2 or 1)
      line = line + 1
    else
      local row, first = {}, line
      while true do
        local cell
        if byte(text, pos) == QUOTE then
          local parts, from = {}, pos + 1
          while true do
            local q = find(text, '"', from, true)
            if not q then
              return nil, format("line %d: a quoted cell is never closed (its "
                                 .. "closing \" is missing)", line)
            end
            parts[#parts + 1] = sub(text, from, q - 1)
            if byte(text, q + 1) ~= QUOTE then
              pos = q + 1
              break
            end
            parts[#parts + 1] = '"'
            from = q + 2
          end
          cell = concat(parts)
          line = line + breaks(cell)
          local d = byte(text, pos)
          if d and d ~= SEP and d ~= CR and d ~= LF then
            return nil, format("line %d: text follows the closing quote of a "
                               .. "quoted cell (a quote inside a quoted cell "
                               .. "is written twice: \"\")", line)
          end
        else
          local stop = find(text, plain, pos) or n + 1
          cell = sub(text, pos, stop - 1)
          pos = stop
        end
        if byte(cell, 1) == APOSTROPHE then cell = sub(cell, 2) end
        row[#row + 1] = cell
        local d = byte(text, pos)
        if d ~= SEP then
          if d == CR then pos = pos + 1 end
          if byte(text, pos) == LF then pos = pos + 1 end
          line = line + 1
          break
        end
        pos = pos + 1
      end
      rows[#rows + 1], lines[#rows + 1] = row, first
    end
  end
  return rows, lines, sep
end

return M
