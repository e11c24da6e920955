//! Networking with the docker CLI: the default bridge and outbound NAT, published ports, user
//! networks with DNS and isolation, network modes, bad input, and a restart of berthd. Traffic
//! stays on loopback, on the engine's own bridges and in namespaces the test creates.

use berth_tests::netenv::{self, LoopbackDns, OutsideNs};
use berth_tests::*;

fn started() -> (Berthd, String) {
    engine_with_busybox()
}

/// A busybox httpd serving `body` at / on port 80.
fn httpd(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

fn curl(url: &str) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5", url])
        .output()
        .expect("run curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls until the server in a fresh container answers (httpd needs a moment to bind).
fn curl_eventually(url: &str) -> String {
    for _ in 0..50 {
        if let Some(body) = curl(url) {
            return body;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{url} never answered");
}

#[test]
fn default_bridge_addresses_routes_and_outbound_nat() {
    let (d, img) = started();
    let gw = d.net().gateway();
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--hostname",
        "boat",
        &img,
        "sh",
        "-c",
        "ip -4 -o addr show eth0; ip route; grep boat /etc/hosts",
    ]);
    let prefix = gw.rsplit_once('.').unwrap().0;
    assert!(out.contains(&format!("inet {prefix}.")), "{out}");
    assert!(out.contains(&format!("default via {gw}")), "{out}");
    assert!(
        out.contains(&format!("{prefix}.")) && out.contains("\tboat"),
        "{out}"
    );

    // "The outside": a namespace of our own with a server that logs who called.
    let mut outside = OutsideNs::new(d.net(), d.dir());
    let www = d.dir().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("hello.txt"), "from-outside\n").unwrap();
    outside.serve_http(8080, &www);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        &img,
        "wget",
        "-qO-",
        &format!("http://{}:8080/hello.txt", outside.ip),
    ]);
    assert_eq!(out, "from-outside\n");
    // Masqueraded: the server saw the host's address, not the container's.
    let log = outside.server_log();
    assert!(log.contains(&outside.host_ip), "{log}");
    assert!(!log.contains(&format!("{prefix}.")), "{log}");

    // inspect: the endpoint of the default network.
    let id = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let id = id.trim();
    let ip = d.docker_ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", id]);
    assert!(ip.trim().starts_with(prefix), "{ip}");
    let mac = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.bridge.MacAddress}}",
        id,
    ]);
    assert!(mac.trim().starts_with("02:42:"), "{mac}");
    let veths = || {
        std::fs::read_dir("/sys/class/net")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("vb"))
            .count()
    };
    let veths_before = veths();
    d.docker_ok(&["rm", "-f", id]);
    // Veths and the pinned namespace go in the background (an RCU wait each), shortly after.
    let pinned = || {
        std::fs::read_dir(d.data_root().join("run/netns"))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    wait_until(
        "the container's veth and namespace removed with it",
        std::time::Duration::from_secs(10),
        || {
            let (now, ns) = (veths(), pinned());
            if now < veths_before && ns == 0 {
                Ok(())
            } else {
                Err(format!("{now} veths (of {veths_before}), {ns} namespaces"))
            }
        },
    );
}

#[test]
fn published_ports_reach_the_container() {
    let reg = fixture_registry();
    let (d, img) = started();
    let gw = d.net().gateway();
    let port = free_port().to_string();
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        &img,
        "sh",
        "-c",
        &httpd("hello-web"),
    ]);
    let id = id.trim();
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    // The host's other addresses too (the bridge's is one the test owns).
    assert_eq!(
        curl(&format!("http://{gw}:{port}/")).as_deref(),
        Some("hello-web\n")
    );
    assert_eq!(
        d.docker_ok(&["port", "web"]).trim(),
        format!("80/tcp -> 0.0.0.0:{port}")
    );
    let ps = d.docker_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");

    // A second container on the same host port: a clear error, nothing half set up.
    let rules_before = netenv::nft_list(&d.nft_table()).unwrap();
    let busy = d.docker(&[
        "run",
        "-d",
        "--name",
        "web2",
        "-p",
        &format!("{port}:80"),
        &img,
        "true",
    ]);
    assert_ne!(busy.status, 0, "{busy}");
    assert!(busy.stderr.contains("port is already allocated"), "{busy}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "web2"])
            .trim(),
        "created"
    );
    assert_eq!(netenv::nft_list(&d.nft_table()).unwrap(), rules_before);
    d.docker_ok(&["rm", "web2"]);

    // A port the host itself uses.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let hport = taken.local_addr().unwrap().port().to_string();
    let busy = d.docker(&["run", "--rm", "-p", &format!("{hport}:80"), &img, "true"]);
    assert_ne!(busy.status, 0, "{busy}");
    assert!(
        d.docker_ok(&["ps", "-aq"]).lines().count() == 1,
        "the --rm container is gone"
    );
    drop(taken);

    // -p PORT picks a free host port; -p IP:HOSTPORT:PORT binds one address only.
    let rnd = d.docker_ok(&["run", "-d", "-p", "80", &img, "sh", "-c", &httpd("random")]);
    let mapped = d.docker_ok(&["port", rnd.trim(), "80"]);
    let host_port = mapped.trim().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{host_port}/")),
        "random\n"
    );
    let lport = free_port().to_string();
    d.docker_ok(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{lport}:80"),
        &img,
        "sh",
        "-c",
        &httpd("local-only"),
    ]);
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{lport}/")),
        "local-only\n"
    );
    assert_eq!(
        curl(&format!("http://{gw}:{lport}/")),
        None,
        "bound to 127.0.0.1 only"
    );

    // -P publishes the image's EXPOSE (layers:latest exposes 80).
    let layers = reg.image("layers:latest");
    d.docker_ok(&["pull", "-q", &layers]);
    let all = d.docker_ok(&[
        "run",
        "-d",
        "-P",
        "--entrypoint",
        "sh",
        &layers,
        "-c",
        &httpd("exposed"),
    ]);
    let mapped = d.docker_ok(&["port", all.trim()]);
    assert!(mapped.starts_with("80/tcp -> 0.0.0.0:"), "{mapped}");
    let p = mapped.trim().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{p}/")),
        "exposed\n"
    );

    // UDP. busybox has no UDP server, so the host's python3 runs in the container (the host's
    // /usr and /lib bound read-only).
    let uport = free_port().to_string();
    let recv = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9999)); d, a = s.recvfrom(100); open('/tmp/got', 'wb').write(d)";
    let udp = d.docker_ok(&[
        "run",
        "-d",
        "-p",
        &format!("{uport}:9999/udp"),
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
        &img,
        "/usr/bin/python3",
        "-c",
        recv,
    ]);
    let udp = udp.trim();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut got = String::new();
    for _ in 0..50 {
        sock.send_to(b"datagram", format!("127.0.0.1:{uport}"))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        got = d.docker(&["exec", udp, "cat", "/tmp/got"]).stdout;
        if got.contains("datagram")
            || !d
                .docker_ok(&["inspect", "-f", "{{.State.Running}}", udp])
                .contains("true")
        {
            break;
        }
    }
    assert_eq!(d.docker_ok(&["wait", udp]).trim(), "0");
    assert!(
        d.docker_ok(&["port", udp]).is_empty(),
        "ports go with the container"
    );
    assert!(d
        .docker_ok(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", udp])
        .contains("9999/udp"));
    let out = d.docker_ok(&["cp", &format!("{udp}:/tmp/got"), "-"]);
    assert!(out.contains("datagram"), "{out:?} {got:?}");

    // Stopping a container takes its rules away.
    d.docker_ok(&["stop", "-t", "1", id]);
    let rules = netenv::nft_list(&d.nft_table()).unwrap();
    assert!(!rules.contains(&format!("dport {port} ")), "{rules}");
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), None);
}

#[test]
fn user_networks_resolve_names_and_stay_apart() {
    let (d, img) = started();
    d.docker_ok(&["network", "create", "--label", "team=a", "front"]);
    d.docker_ok(&["network", "create", "back"]);
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    for n in ["bridge", "host", "none", "front", "back"] {
        assert!(ls.lines().any(|l| l == n), "{ls}");
    }
    let only = d.docker_ok(&["network", "ls", "-q", "--filter", "label=team=a"]);
    assert_eq!(only.lines().count(), 1, "{only}");

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "site",
        &img,
        "sh",
        "-c",
        &httpd("on-front"),
    ]);
    let fetch = "for i in $(seq 50); do wget -qO- http://$0/ && exit 0; sleep 0.1; done; exit 1";
    for name in ["web", "site"] {
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            &img,
            "sh",
            "-c",
            fetch,
            name,
        ]);
        assert_eq!(out, "on-front\n");
    }
    let rc = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        &img,
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(rc.contains("nameserver 127.0.0.11"), "{rc}");

    // Another network neither resolves nor reaches it.
    let web_ip = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.front.IPAddress}}",
        "web",
    ]);
    let web_ip = web_ip.trim();
    let out = d.docker(&["run", "--rm", "--network", "back", &img, "nslookup", "web"]);
    assert!(!out.stdout.contains(web_ip), "{out}");
    let probe = format!("echo -e 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {web_ip} 80");
    let out = d.docker(&["run", "--rm", "--network", "back", &img, "sh", "-c", &probe]);
    assert!(!out.stdout.contains("on-front"), "{out}");
    let out = d.docker(&["run", "--rm", &img, "sh", "-c", &probe]);
    assert!(
        !out.stdout.contains("on-front"),
        "default bridge is apart too: {out}"
    );

    // connect --alias / disconnect a running container.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "back",
        &img,
        "sleep",
        "60",
    ]);
    d.docker_ok(&["network", "connect", "--alias", "cli", "front", "client"]);
    let out = d.docker_ok(&["exec", "client", "wget", "-qO-", "http://web/"]);
    assert_eq!(out, "on-front\n");
    let out = d.docker_ok(&["run", "--rm", "--network", "front", &img, "nslookup", "cli"]);
    assert!(out.contains("Address"), "{out}");
    let inspect = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "front",
    ]);
    assert!(
        inspect.contains("client") && inspect.contains("web"),
        "{inspect}"
    );
    d.docker_ok(&["network", "disconnect", "front", "client"]);
    let out = d.docker(&["exec", "client", "sh", "-c", &probe]);
    assert!(!out.stdout.contains("on-front"), "{out}");

    // In use: refused. Unused: removed by rm and prune.
    let busy = d.docker(&["network", "rm", "front"]);
    assert_ne!(busy.status, 0);
    assert!(busy.stderr.contains("has active endpoints"), "{busy}");
    d.docker_ok(&["rm", "-f", "web", "client"]);
    d.docker_ok(&["network", "create", "spare"]);
    let pruned = d.docker_ok(&["network", "prune", "-f"]);
    for n in ["front", "back", "spare"] {
        assert!(pruned.contains(n), "{pruned}");
    }
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls.lines().count(), 3, "{ls}");
}

#[test]
fn links_on_a_user_network_are_aliases_for_the_linking_container_only() {
    let (d, img) = started();
    d.docker_ok(&["network", "create", "apps"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "apps",
        &img,
        "sleep",
        "300",
    ]);
    let db_ip = d.inspect_format("db", "{{.NetworkSettings.Networks.apps.IPAddress}}");
    // `--link` on a user network: the endpoint holds it, the legacy field stays empty.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "apps",
        "--link",
        "db:database",
        &img,
        "sleep",
        "300",
    ]);
    assert_eq!(
        d.inspect_format("app", "{{json .NetworkSettings.Networks.apps.Links}}"),
        r#"["db:database"]"#
    );
    assert_eq!(
        d.inspect_format("app", "{{json .HostConfig.Links}}"),
        "null"
    );
    let out = d.docker_ok(&["exec", "app", "nslookup", "database"]);
    assert!(
        out.contains(&db_ip),
        "the alias resolves for the linking container: {out}"
    );
    // Nobody else on the network knows the alias.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "apps",
        &img,
        "nslookup",
        "database",
    ]);
    assert!(!out.stdout.contains(&db_ip), "{out}");
    // network connect --link, on a container already running.
    d.docker_ok(&["network", "create", "more"]);
    d.docker_ok(&["network", "connect", "more", "db"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "--network",
        "more",
        &img,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["network", "connect", "--link", "db:store", "apps", "late"]);
    let out = d.docker_ok(&["exec", "late", "nslookup", "store"]);
    assert!(out.contains(&db_ip), "{out}");
    // The legacy forms that cannot work are refused as dockerd refuses them.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:db",
        "--link",
        "db",
        &img,
        "true",
    ]);
    assert!(
        out.stderr
            .contains("container type network can't be used with links"),
        "{out}"
    );
}

#[test]
fn link_local_ips_are_added_to_the_interface_and_shown_by_inspect() {
    let (d, img) = started();
    d.docker_ok(&["network", "create", "ll"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "lla",
        "--network",
        "ll",
        "--link-local-ip",
        "169.254.7.7",
        &img,
        "sleep",
        "300",
    ]);
    let addrs = d.docker_ok(&["exec", "lla", "ip", "-4", "addr", "show", "eth0"]);
    assert!(addrs.contains("inet 169.254.7.7/32"), "{addrs}");
    assert_eq!(
        d.inspect_format(
            "lla",
            "{{json .NetworkSettings.Networks.ll.IPAMConfig.LinkLocalIPs}}"
        ),
        r#"["169.254.7.7"]"#
    );
    // Bad and not-yet-supported values are refused, not dropped.
    for (ip, msg) in [
        ("nope", "invalid link-local IP address: nope"),
        ("fe80::7", "does not support IPv6"),
    ] {
        let out = d.docker(&[
            "run",
            "--rm",
            "--network",
            "ll",
            "--link-local-ip",
            ip,
            &img,
            "true",
        ]);
        assert!(!out.success() && out.stderr.contains(msg), "{ip}: {out}");
    }
}

#[test]
fn subnets_internal_networks_and_network_modes() {
    let (d, img) = started();
    let gw = d.net().gateway();
    let o: Vec<&str> = gw.split('.').collect();
    // A subnet of our own inside the engine's /21 slot, clear of the bridge and the pool.
    let subnet = format!("10.{}.{}.0/24", o[1], o[2].parse::<u32>().unwrap() + 2);
    let sub_gw = format!("10.{}.{}.254", o[1], o[2].parse::<u32>().unwrap() + 2);
    let fixed = format!("10.{}.{}.7", o[1], o[2].parse::<u32>().unwrap() + 2);
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--gateway",
        &sub_gw,
        "fixed",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        &fixed,
        &img,
        "sh",
        "-c",
        "ip -4 -o addr show eth0; ip route",
    ]);
    assert!(out.contains(&format!("inet {fixed}/24")), "{out}");
    assert!(out.contains(&format!("default via {sub_gw}")), "{out}");
    let cfg = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        "fixed",
    ]);
    assert_eq!(cfg.trim(), format!("{subnet} {sub_gw}"));
    // connect --ip: a running container joins with the address asked for; taken ones are refused.
    let joined = format!("10.{}.{}.9", o[1], o[2].parse::<u32>().unwrap() + 2);
    d.docker_ok(&["run", "-d", "--name", "late", &img, "sleep", "60"]);
    d.docker_ok(&["network", "connect", "--ip", &joined, "fixed", "late"]);
    let out = d.docker_ok(&["exec", "late", "ip", "-4", "-o", "addr"]);
    assert!(out.contains(&format!("inet {joined}/24")), "{out}");
    d.docker_ok(&["run", "-d", "--name", "late2", &img, "sleep", "60"]);
    let taken = d.docker(&["network", "connect", "--ip", &joined, "fixed", "late2"]);
    assert!(taken.stderr.contains("Address already in use"), "{taken}");
    d.docker_ok(&["rm", "-f", "late", "late2"]);

    // Internal: no way out.
    let mut outside = OutsideNs::new(d.net(), d.dir());
    let www = d.dir().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("x"), "x\n").unwrap();
    outside.serve_http(8081, &www);
    d.docker_ok(&["network", "create", "--internal", "sealed"]);
    let url = format!("http://{}:8081/x", outside.ip);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        &img,
        "wget",
        "-T",
        "2",
        "-qO-",
        &url,
    ]);
    assert_ne!(out.stdout, "x\n", "{out}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", &img, "wget", "-qO-", &url]),
        "x\n"
    );

    // container:, none, host.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "base",
        &img,
        "sh",
        "-c",
        &httpd("shared"),
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        &img,
        "sh",
        "-c",
        "for i in $(seq 50); do wget -qO- http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(out, "shared\n");
    let out = d.docker_ok(&["run", "--rm", "--network", "none", &img, "ip", "-o", "link"]);
    assert_eq!(out.lines().count(), 1, "only lo: {out}");
    let out = d.docker_ok(&["run", "--rm", "--network", "host", &img, "ip", "-o", "link"]);
    assert!(out.contains(&d.net().bridge), "the host's links: {out}");

    // --add-host (with host-gateway), --dns, --dns-search, --dns-option.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--add-host",
        "db.test:10.1.2.3",
        "--add-host",
        "gw.test:host-gateway",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "corp.test",
        "--dns-option",
        "ndots:2",
        &img,
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf",
    ]);
    assert!(out.contains("10.1.2.3\tdb.test"), "{out}");
    assert!(out.contains(&format!("{gw}\tgw.test")), "{out}");
    assert!(
        out.contains("nameserver 10.9.9.9")
            && out.contains("search corp.test")
            && out.contains("options ndots:2"),
        "{out}"
    );
}

#[test]
fn embedded_dns_forwards_other_names_to_the_host_resolvers() {
    let upstream = LoopbackDns::start(&[("outside.test", "10.9.8.7")]);
    let reg = fixture_registry();
    let d = Berthd::start_with_args(&["--dns", &upstream.ip]);
    let img = reg.image("busybox:latest");
    d.docker_ok(&["pull", "-q", &img]);
    d.docker_ok(&["network", "create", "n1"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--network",
        "n1",
        &img,
        "sleep",
        "60",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "n1",
        &img,
        "sh",
        "-c",
        "nslookup outside.test; nslookup svc",
    ]);
    assert!(out.contains("10.9.8.7"), "forwarded: {out}");
    let svc_ip = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.n1.IPAddress}}",
        "svc",
    ]);
    assert!(out.contains(svc_ip.trim()), "answered locally: {out}");
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "n1",
        &img,
        "nslookup",
        "missing.test",
    ]);
    assert!(!out.stdout.contains("10.9.8.7"), "{out}");
    // An internal network has no way out, for names either; its own names still resolve.
    d.docker_ok(&["network", "create", "--internal", "sealed"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "inner",
        "--network",
        "sealed",
        &img,
        "sleep",
        "60",
    ]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        &img,
        "sh",
        "-c",
        "nslookup outside.test; nslookup inner",
    ]);
    assert!(!out.stdout.contains("10.9.8.7"), "{out}");
    let inner_ip = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.sealed.IPAddress}}",
        "inner",
    ]);
    assert!(out.stdout.contains(inner_ip.trim()), "{out}");
}

#[test]
fn bad_network_input_gets_docker_errors() {
    let (d, img) = started();
    let gw = d.net().gateway();
    let o: Vec<&str> = gw.split('.').collect();
    let subnet = format!("10.{}.{}.0/24", o[1], o[2].parse::<u32>().unwrap() + 2);
    d.docker_ok(&["network", "create", "--subnet", &subnet, "one"]);
    // One command line per case, arguments separated by `|` (a name may hold a space).
    let cases: Vec<(String, &str)> = vec![
        (format!("network|create|--subnet|{subnet}|two"), "overlaps"),
        ("network|create|one".into(), "already exists"),
        ("network|create|   ".into(), "invalid name"),
        ("network|create|--subnet|10.0.0.0/33|x1".into(), "invalid"),
        (
            "network|create|--subnet|10.250.0.0/24|--gateway|10.251.0.1|x2".into(),
            "gateway",
        ),
        ("network|rm|bridge".into(), "pre-defined network"),
        ("network|inspect|nope".into(), "not found"),
        (
            format!("run|--rm|--network|one|--ip|10.99.99.99|{img}|true"),
            "no configured subnet",
        ),
        (
            format!("run|--rm|--ip|10.99.99.99|{img}|true"),
            "user defined networks",
        ),
        (format!("run|--rm|-p|99999:80|{img}|true"), "invalid"),
        (
            format!("run|--rm|--add-host|x:not-an-ip|{img}|true"),
            "invalid",
        ),
        ("network|connect|nope|nothing".into(), "No such container"),
    ];
    for (line, want) in &cases {
        let a: Vec<&str> = line.split('|').collect();
        let out = d.docker(&a);
        assert_ne!(out.status, 0, "{a:?} should fail: {out}");
        assert!(
            out.stderr.to_lowercase().contains(&want.to_lowercase()),
            "{a:?}: {out}"
        );
    }
    d.docker_ok(&["create", "--name", "idle", &img, "true"]);
    let out = d.docker(&["network", "connect", "nope", "idle"]);
    assert!(out.stderr.contains("network nope not found"), "{out}");
    let out = d.docker(&["network", "connect", "--alias", "x", "bridge", "idle"]);
    assert!(
        out.stderr.contains("already exists") || out.stderr.contains("alias"),
        "{out}"
    );
    d.docker_ok(&["rm", "idle"]);
    // None of it left anything: one user network, no containers.
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls.lines().count(), 4, "{ls}");
    assert_eq!(d.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn networks_survive_a_killed_engine_and_leave_nothing_behind() {
    let reg = fixture_registry();
    let img = reg.image("busybox:latest");
    let (bridges, table);
    {
        let mut d = Berthd::start();
        d.docker_ok(&["pull", "-q", &img]);
        d.docker_ok(&["network", "create", "keep"]);
        let port = free_port().to_string();
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "keep",
            "-p",
            &format!("{port}:80"),
            &img,
            "sh",
            "-c",
            &httpd("still-here"),
        ]);
        let url = format!("http://127.0.0.1:{port}/");
        assert_eq!(curl_eventually(&url), "still-here\n");
        d.kill9();
        // The kernel keeps forwarding while berthd is gone.
        assert_eq!(curl(&url).as_deref(), Some("still-here\n"));
        // A leftover from a setup interrupted by the kill: a veth on the engine's bridge.
        let br = d
            .bridges()
            .into_iter()
            .find(|b| b.starts_with("br-"))
            .unwrap();
        let stray = format!("vbdeadbeef{}", &br[3..7]);
        let st = std::process::Command::new("ip")
            .args([
                "link",
                "add",
                &stray,
                "type",
                "veth",
                "peer",
                "name",
                &format!("{stray}p"),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        std::process::Command::new("ip")
            .args(["link", "set", &stray, "master", &br])
            .status()
            .unwrap();
        // And a namespace pinned for a container that never started.
        let ns = format!("bs{}", &br[3..11]);
        let pinned = d.data_root().join("run/netns/0123456789abcdef");
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap()
        };
        assert!(ip(&["netns", "add", &ns]).success());
        std::fs::write(&pinned, "").unwrap();
        let bound = std::process::Command::new("mount")
            .arg("--bind")
            .arg(format!("/run/netns/{ns}"))
            .arg(&pinned)
            .status()
            .unwrap();
        assert!(bound.success());
        ip(&["netns", "del", &ns]);
        d.restart();
        assert!(
            !netenv::link_exists(&stray),
            "the sweep removed the stray veth"
        );
        assert!(!pinned.exists(), "the sweep unpinned the stray namespace");
        let ps = d.docker_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
        assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
        assert_eq!(curl(&url).as_deref(), Some("still-here\n"));
        // DNS is served again by the restarted engine.
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "keep",
            &img,
            "wget",
            "-qO-",
            "http://web/",
        ]);
        assert_eq!(out, "still-here\n");
        let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
        assert!(ls.contains("keep"), "{ls}");
        // A restart does not give the port to anyone else.
        let busy = d.docker(&["run", "--rm", "-p", &format!("{port}:80"), &img, "true"]);
        assert!(busy.stderr.contains("port is already allocated"), "{busy}");
        bridges = d.bridges();
        table = d.nft_table();
        assert!(netenv::nft_list(&table).is_some());
        for b in &bridges {
            assert!(netenv::link_exists(b), "{b}");
        }
    }
    // The harness removed what the engine keeps across restarts.
    for b in &bridges {
        assert!(!netenv::link_exists(b), "{b} left behind");
    }
    assert!(netenv::nft_list(&table).is_none(), "nft table left behind");
}

#[test]
fn iptables_backend_publishes_ports_and_masquerades() {
    let reg = fixture_registry();
    let img = reg.image("busybox:latest");
    let table;
    {
        let d = Berthd::start_with_args(&["--firewall-backend", "iptables"]);
        table = d.nft_table();
        d.docker_ok(&["pull", "-q", &img]);
        assert!(
            netenv::nft_list(&table).is_none(),
            "no nftables table on this backend"
        );
        let port = free_port().to_string();
        let id = d.docker_ok(&[
            "run",
            "-d",
            "-p",
            &format!("{port}:80"),
            &img,
            "sh",
            "-c",
            &httpd("via-iptables"),
        ]);
        assert_eq!(
            curl_eventually(&format!("http://127.0.0.1:{port}/")),
            "via-iptables\n"
        );
        let saved = netenv::iptables_save();
        assert!(
            saved.contains(&format!("--dport {port} -j DNAT")),
            "{saved}"
        );
        // Outbound NAT on this backend too.
        let mut outside = OutsideNs::new(d.net(), d.dir());
        let www = d.dir().join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("o.txt"), "out\n").unwrap();
        outside.serve_http(8082, &www);
        let url = format!("http://{}:8082/o.txt", outside.ip);
        assert_eq!(
            d.docker_ok(&["run", "--rm", &img, "wget", "-qO-", &url]),
            "out\n"
        );
        assert!(outside.server_log().contains(&outside.host_ip));
        // Networks stay apart.
        d.docker_ok(&["network", "create", "ipt1"]);
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            "w1",
            "--network",
            "ipt1",
            &img,
            "sh",
            "-c",
            &httpd("w1"),
        ]);
        let ip = d.docker_ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.ipt1.IPAddress}}",
            "w1",
        ]);
        let probe = format!(
            "echo -e 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} 80",
            ip.trim()
        );
        let out = d.docker(&["run", "--rm", &img, "sh", "-c", &probe]);
        assert!(!out.stdout.contains("w1"), "{out}");
        d.docker_ok(&["rm", "-f", id.trim()]);
        let saved = netenv::iptables_save();
        assert!(
            !saved.contains(&format!("--dport {port} -j DNAT")),
            "{saved}"
        );
    }
    let saved = netenv::iptables_save();
    for (_, chain) in netenv::iptables_chains(&table) {
        assert!(!saved.contains(&chain), "{chain} left behind: {saved}");
    }
}

#[test]
fn the_welcome_image_is_there_offline_and_serves_its_page() {
    let mut d = Berthd::start_with_args(&["--welcome-image=true"]);
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "berth/welcome:latest");
    let port = free_port().to_string();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "welcome",
        "-p",
        &format!("{port}:80"),
        "berth/welcome",
    ]);
    let page = curl_eventually(&format!("http://127.0.0.1:{port}/"));
    assert!(page.contains("Welcome to Berth"), "{page}");
    assert!(page.contains("Bienvenido a Berth"), "{page}");
    // Removed by the user, it stays removed across restarts.
    d.docker_ok(&["rm", "-f", "welcome"]);
    d.docker_ok(&["rmi", "berth/welcome"]);
    d.restart();
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
}
