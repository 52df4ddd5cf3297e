# The packages jailed and its tests need, made from this machine's own
# (Debian 12) binaries: each is copied with the libraries it needs, and
# patched to load them from the store (builders/bundle-elves.sh), so that it
# runs with its Nix closure alone. The versions name what this machine has;
# a builder copies whatever the host has at the time.
{ final, hostRunCommand }:
let
  hostPackage =
    {
      pname,
      version,
      meta ? { },
      copy,
    }:
    hostRunCommand "${pname}-${version}"
      {
        inherit pname version meta;
        inherit (final) glibc;
      }
      ''
        source ${./builders/bundle-elves.sh}
        ${copy}
        bundle_elves "$out"
      '';

  # One program from this machine's /usr/bin, with the libraries it needs.
  hostProgram =
    {
      pname,
      version,
      program,
    }:
    hostPackage {
      inherit pname version;
      meta.mainProgram = program;
      copy = ''
        mkdir -p "$out/bin"
        cp /usr/bin/${program} "$out/bin/${program}"
      '';
    };
in
{
  # The loader and libc, as nixpkgs' glibc holds them: every other package's
  # ELF files point here.
  glibc = hostRunCommand "glibc-2.36" {
    pname = "glibc";
    version = "2.36";
  } ''
    mkdir -p "$out/lib"
    dpkg-query -L libc6:amd64 | grep -E '^/lib/x86_64-linux-gnu/[^/]+$' |
      while read -r file; do cp "$file" "$out/lib/"; done
    test -e "$out/lib/ld-linux-x86-64.so.2"
  '';

  bash = hostPackage {
    pname = "bash";
    version = "5.2.15";
    meta.mainProgram = "bash";
    copy = ''
      mkdir -p "$out/bin"
      cp /usr/bin/bash "$out/bin/bash"
      ln -s bash "$out/bin/sh"
    '';
  };

  coreutils = hostPackage {
    pname = "coreutils";
    version = "9.1";
    copy = ''
      mkdir -p "$out/bin"
      dpkg-query -L coreutils | grep -E '/bin/[^/]+$' |
        while read -r file; do cp "$file" "$out/bin/"; done
    '';
  };

  bubblewrap = hostProgram {
    pname = "bubblewrap";
    version = "0.8.0";
    program = "bwrap";
  };

  socat = hostProgram {
    pname = "socat";
    version = "1.7.4.4";
    program = "socat";
  };

  # Only the interpreter: the store stager uses no module.
  perl = hostProgram {
    pname = "perl";
    version = "5.36.0";
    program = "perl";
  };

  nodejs = hostProgram {
    pname = "nodejs";
    version = "20.20.2";
    program = "node";
  };

  cacert = hostPackage {
    pname = "nss-cacert";
    version = "20230311";
    copy = ''
      mkdir -p "$out/etc/ssl/certs"
      cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-bundle.crt"
    '';
  };

  curl = hostProgram {
    pname = "curl";
    version = "7.88.1";
    program = "curl";
  };

  # Debian's git looks for its helpers (git-remote-https, …) and templates
  # at compiled-in /usr paths; the wrapper points it at the store's copies.
  git = hostPackage {
    pname = "git";
    version = "2.39.5";
    meta.mainProgram = "git";
    copy = ''
      mkdir -p "$out/bin" "$out/libexec" "$out/share/git-core"
      cp -R --preserve=mode,links /usr/lib/git-core "$out/libexec/git-core"
      cp -R /usr/share/git-core/templates "$out/share/git-core/templates"
      cat > "$out/bin/git" <<EOF
    #!${final.bash}/bin/bash
    export GIT_EXEC_PATH=\''${GIT_EXEC_PATH:-$out/libexec/git-core}
    export GIT_TEMPLATE_DIR=\''${GIT_TEMPLATE_DIR:-$out/share/git-core/templates}
    exec "$out/libexec/git-core/git" "\$@"
    EOF
      chmod +x "$out/bin/git"
    '';
  };

  # For the escape tests' probes, which make system calls through ctypes; jailed itself never uses
  # it. Python finds its standard library next to its binary (lib/python3.11). Byte code is compiled
  # as unchecked-hash, as nixpkgs does: the store's file times would invalidate Debian's.
  python3 = hostPackage {
    pname = "python3";
    version = "3.11.2";
    meta.mainProgram = "python3";
    copy = ''
      mkdir -p "$out/bin" "$out/lib"
      cp /usr/bin/python3.11 "$out/bin/python3.11"
      ln -s python3.11 "$out/bin/python3"
      cp -R /usr/lib/python3.11 "$out/lib/python3.11"
      find "$out/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} +
      rm -rf "$out/lib/python3.11/test" "$out/lib/python3.11/dist-packages" "$out/lib/python3.11/lib2to3/tests"
      /usr/bin/python3.11 -m compileall -q --invalidation-mode unchecked-hash "$out/lib/python3.11"
    '';
  };
}
