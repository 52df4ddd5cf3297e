# Makes copies of this machine's ELF files run with nothing but their Nix
# closure, as nixpkgs' autoPatchelfHook does for prebuilt binaries: each
# library a file needs (per ldd) is copied into the package's lib/ unless it
# is glibc's or already inside the package, and each file's interpreter is
# pointed at $glibc's loader and its RUNPATH at the package's lib/ and $glibc.
# Used by builders that run with the host's tools (ldd, readelf, patchelf).

# bundle_elves ROOT: handles every dynamic x86-64 ELF file under ROOT.
bundle_elves() {
  local root=$1 file
  local -a elves=()
  local -A seen=()
  while IFS= read -r -d '' file; do
    local inode
    inode=$(stat -c %i "$file")
    # Hard links (git's helpers) are one file: patch it once.
    [ -z "${seen[$inode]:-}" ] || continue
    seen[$inode]=1
    if is_dynamic_elf "$file"; then
      elves+=("$file")
    fi
  done < <(find "$root" -type f -print0)

  local -a patchable=()
  for file in "${elves[@]}"; do
    if copy_needed_libraries "$root" "$file"; then
      patchable+=("$file")
    fi
  done
  if [ -d "$root/lib" ]; then
    for file in "$root"/lib/*; do
      # What was copied in from the host; what the package shipped itself
      # was seen already.
      [ -f "$file" ] && [ ! -L "$file" ] || continue
      if [ -z "${seen[$(stat -c %i "$file")]:-}" ] && is_dynamic_elf "$file"; then
        patchable+=("$file")
      fi
    done
  fi
  for file in "${patchable[@]}"; do
    patch_elf "$root" "$file"
  done
}

# A dynamically linked x86-64 ELF file (prebuilt npm packages ship others).
is_dynamic_elf() {
  [ "$(od -A n -t x1 -N 4 "$1")" = ' 7f 45 4c 46' ] || return 1
  readelf -h "$1" 2>/dev/null | grep -q 'Machine:.*X86-64' || return 1
  readelf -d "$1" 2>/dev/null | grep -q '(NEEDED)'
}

# Copies into ROOT/lib what FILE needs from the host. Fails (and so leaves
# FILE as it is) when a library cannot be found on this machine either,
# like a musl build's libc: such a file does not run here in any case.
copy_needed_libraries() {
  local root=$1 file=$2 line soname path
  local listing
  listing=$(ldd "$file" 2>/dev/null) || return 1
  if grep -q '=> not found' <<<"$listing"; then
    echo "bundle-elves: leaving ${file#"$root"/} as it is, it needs: $(grep '=> not found' <<<"$listing" | tr -d '\t' | tr '\n' ' ')" >&2
    return 1
  fi
  local re='^[[:space:]]*([^[:space:]]+) => (/[^[:space:]]+) \('
  while IFS= read -r line; do
    [[ $line =~ $re ]] || continue
    soname=${BASH_REMATCH[1]}
    path=$(realpath "${BASH_REMATCH[2]}")
    case $path in "$root"/*) continue ;; esac
    [ ! -e "$glibc/lib/$soname" ] || continue
    if [ ! -e "$root/lib/$soname" ]; then
      mkdir -p "$root/lib"
      cp "$path" "$root/lib/$soname"
      chmod u+w "$root/lib/$soname"
    fi
  done <<<"$listing"
}

patch_elf() {
  local root=$1 file=$2 entry
  local -a entries=() rpath=() flags=()
  # Keep the file's own $ORIGIN-relative entries: they point inside the package.
  IFS=: read -ra entries <<<"$(patchelf --print-rpath "$file")"
  for entry in "${entries[@]}"; do
    case $entry in '$ORIGIN'*) rpath+=("$entry") ;; esac
  done
  [ ! -d "$root/lib" ] || rpath+=("$root/lib")
  rpath+=("$glibc/lib")
  if readelf -l -W "$file" | grep -q 'program interpreter'; then
    flags+=(--set-interpreter "$glibc/lib/ld-linux-x86-64.so.2")
  fi
  chmod u+w "$file"
  patchelf "${flags[@]}" --set-rpath "$(IFS=:; echo "${rpath[*]}")" "$file"
  fix_verdef "$file"
}

# patchelf 0.14 moves .gnu.version_d without updating DT_VERDEF, so the
# loader reads version definitions from the wrong place: Bun binaries such as
# Claude Code's then crash at start (nixpkgs patches patchelf for this).
# Points DT_VERDEF at the section's address again.
fix_verdef() {
  local file=$1 dynamic_offset dynamic_size verdef_address index=0 tag value
  local sections
  sections=$(readelf -S -W "$file" | sed -n 's/^ *\[ *[0-9]*\] *//p')
  read -r dynamic_offset dynamic_size < <(awk '$1 == ".dynamic" { print $4, $5 }' <<<"$sections")
  verdef_address=$(awk '$1 == ".gnu.version_d" { print $3 }' <<<"$sections")
  [ -n "$dynamic_offset" ] && [ -n "$verdef_address" ] || return 0
  while read -r tag value; do
    if [ "$tag" = 000000006ffffffc ]; then
      local hex little_endian='' i
      hex=$(printf '%016x' "$((16#$verdef_address))")
      for i in 14 12 10 8 6 4 2 0; do little_endian+="\\x${hex:i:2}"; done
      printf "$little_endian" |
        dd of="$file" bs=1 seek=$((16#$dynamic_offset + 16 * index + 8)) conv=notrunc status=none
      return 0
    fi
    index=$((index + 1))
  done < <(od -A n -t x8 -v -j $((16#$dynamic_offset)) -N $((16#$dynamic_size)) "$file")
}
