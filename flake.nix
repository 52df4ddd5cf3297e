{
  description = "Run AI coding agents and any other program in a jail built from Nix, behind a policy proxy";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems =
        f:
        builtins.listToAttrs (
          map (system: {
            name = system;
            value = f system;
          }) systems
        );

      # Unfree agents are allowed by name, and nothing else is.
      unfreeAgents = map (spec: spec.nixAttr) (
        builtins.filter (spec: spec.unfree) (builtins.attrValues (import ./nix/agents))
      );
      pkgsFor =
        system:
        import nixpkgs {
          inherit system;
          config.allowUnfreePredicate =
            pkg: builtins.elem (pkg.pname or (builtins.parseDrvName pkg.name).name) unfreeAgents;
        };
      libFor = system: import ./nix/lib.nix { pkgs = pkgsFor system; };

      jailedCli =
        system:
        import ./nix/cli.nix {
          pkgs = pkgsFor system;
          jailedLib = libFor system;
        };
    in
    {
      lib = forAllSystems libFor;

      packages = forAllSystems (
        system:
        (libFor system).agentPackages
        // {
          jailed = jailedCli system;
          default = jailedCli system;
        }
      );

      apps = forAllSystems (
        system:
        builtins.mapAttrs (name: drv: {
          type = "app";
          program = "${drv}/bin/${drv.meta.mainProgram}";
        }) self.packages.${system}
      );

      overlays.default = import ./nix/overlays.nix;

      devShells = forAllSystems (
        system:
        let
          pkgs = pkgsFor system;
        in
        {
          default = pkgs.runCommandLocal "jailed-dev-shell" {
            nativeBuildInputs = [
              pkgs.nodejs
              pkgs.bubblewrap
              pkgs.socat
              (jailedCli system)
            ];
          } "touch $out";
        }
      );

      # Building a wrapper checks its command exists and its JailConfig passes the option checks.
      checks = forAllSystems (system: (libFor system).agentPackages);
    };
}
