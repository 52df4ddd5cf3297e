# nixpkgs' closureInfo (pkgs/build-support/closure-info.nix): $out/store-paths
# lists the closure of rootPaths (sorted, as Nix exports it), $out/registration
# is in the format of `nix-store --load-db`, $out/total-nar-size sums the NAR
# sizes. Like nixpkgs it reads the closure from exportReferencesGraph under
# structured attributes; with no jq here, bash parses Nix's JSON, whose
# closure entries are flat objects (no nested braces).
{ runCommand }:
{ rootPaths }:
runCommand "closure-info"
  {
    __structuredAttrs = true;
    exportReferencesGraph.closure = rootPaths;
    preferLocalBuild = true;
    empty = rootPaths == [ ];
  }
  ''
    mkdir "$out"
    : > "$out/store-paths"
    : > "$out/registration"
    total=0
    if [ -z "$empty" ]; then
      json=$(<"$NIX_ATTRS_JSON_FILE")
      # The closure is the top-level "closure" key holding objects; the
      # exportReferencesGraph attribute repeats the key, holding strings.
      closure_re='[{,]"closure":\[(\{.*)$'
      entry_re='^\{([^{}]*)\},?'
      path_re='"path":"([^"]+)"'
      hash_re='"narHash":"([^"]+)"'
      size_re='"narSize":([0-9]+)'
      references_re='"references":\[([^]]*)\]'
      if ! [[ $json =~ $closure_re ]]; then
        echo "closureInfo: no closure in $NIX_ATTRS_JSON_FILE" >&2
        exit 1
      fi
      rest=''${BASH_REMATCH[1]}
      # field NAME REGEX: sets NAME to the first group of REGEX in $entry.
      field() {
        if ! [[ $entry =~ $2 ]]; then
          echo "closureInfo: no $1 in {$entry}" >&2
          exit 1
        fi
        printf -v "$1" '%s' "''${BASH_REMATCH[1]}"
      }
      while [[ $rest =~ $entry_re ]]; do
        entry=''${BASH_REMATCH[1]}
        rest=''${rest:''${#BASH_REMATCH[0]}}
        field path "$path_re"
        field hash "$hash_re"
        field size "$size_re"
        field refs "$references_re"
        IFS=, read -ra references <<<"''${refs//\"/}"
        echo "$path" >> "$out/store-paths"
        printf '%s\n' "$path" "$hash" "$size" "" "''${#references[@]}" "''${references[@]}" >> "$out/registration"
        total=$((total + size))
      done
      if [[ $rest != "]"* ]]; then
        echo "closureInfo: cannot parse the closure at: ''${rest:0:200}" >&2
        exit 1
      fi
    fi
    echo "$total" > "$out/total-nar-size"
  ''
