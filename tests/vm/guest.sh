# Runs in the cgroup v2 test VM after switch_root (tests/vm/init), as the guest's PID 1, from the
# job dir (copied there by tests/src/vm.rs): sets up what systemd would on a pure cgroup v2 host,
# runs the job, records its exit code, powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
job=$(dirname "$0")
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,gid=5,mode=620 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# Modules the engine's networking asks for (veth, bridge, nf_tables) load on demand through
# modprobe, from the unpacked kernel package.
mkdir -p /lib/modules
ln -sfn "$(cat "$job/modules-dir")" "/lib/modules/$(uname -r)"
mkdir -p /berth-vm/tests /berth-vm/tmp
hostname berth-vm
ip link set lo up
echo "berth-vm: $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

# PID 1 stays this shell: it reaps the job's orphans (containers' monitors re-parent here).
(cd "$job" && . ./env && exec sh ./job.sh) >"$job/output" 2>&1
echo $? >"$job/exit.tmp"
mv "$job/exit.tmp" "$job/exit"
sync
exec /bin/busybox poweroff -f
