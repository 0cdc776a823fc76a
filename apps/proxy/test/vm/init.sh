#!/bin/sh
# /init of the IPVS test VM (busybox sh; see build.sh and ../ipvs-vm.test.ts).
# Loads the modules, creates kube-ipvs0 (dummy, left down, as kube-proxy does)
# with the ClusterIPs, starts one backend per network namespace (busybox httpd
# answering its name), applies kubets-proxy's rules with ipvsadm-restore,
# prints the IPVS table and the replies of connections to the ClusterIPs, and
# applies an incremental change as kubets-proxy does, probes again, and
# powers off. Every line meant for the test starts with "KVM:".
# Debian's busybox sh runs its own `ip` applet before $PATH: iproute2's ip is
# called by its full path.
export PATH=/bin:/usr/sbin
IP=/usr/sbin/ip
K=/etc/kubets
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs run /run
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /run/netns
echo "KVM: booted $(uname -r)"

for m in $(cat $K/modules); do
  insmod /lib/modules/$m.ko || echo "KVM: ERROR insmod $m"
done

$IP link set lo up
$IP link add kube-ipvs0 type dummy || echo "KVM: ERROR dummy"
while read -r a; do
  [ -n "$a" ] && { $IP addr add "$a" dev kube-ipvs0 || echo "KVM: ERROR addr $a"; }
done < $K/ipvs-addrs

# backends: "name ip gateway port" per line; name is also the namespace.
n=0
while read -r name addr gw port; do
  [ -n "$name" ] || continue
  n=$((n + 1))
  $IP netns add "$name"
  $IP link add "veth$n" type veth peer name eth0 netns "$name"
  $IP addr add "$gw/24" dev "veth$n"
  $IP link set "veth$n" up
  $IP -n "$name" link set lo up
  $IP -n "$name" addr add "$addr/24" dev eth0
  $IP -n "$name" link set eth0 up
  $IP -n "$name" route add default via "$gw"
  mkdir -p "/srv/$name"
  echo "$name" > "/srv/$name/index.html"
  # httpd binds its socket before it daemonizes: it listens once this returns.
  $IP netns exec "$name" httpd -p "$addr:$port" -h "/srv/$name" || echo "KVM: ERROR httpd $name"
done < $K/backends

sh /usr/sbin/ipvsadm-restore < $K/ipvs-rules
echo "KVM: restore-exit $?"

echo "KVM: BEGIN ipvsadm -Ln"
ipvsadm -Ln
echo "KVM: END ipvsadm -Ln"

# probes FILE: "vip port count" per line; one HTTP/1.0 request per connection.
probes() {
  while read -r vip port count; do
    [ -n "$vip" ] || continue
    i=0
    while [ $i -lt "$count" ]; do
      i=$((i + 1))
      reply=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$vip" "$port" | tail -n 1 | tr -d '\r')
      echo "KVM: REPLY $2 $vip:$port ${reply:-none}"
    done
  done < "$1"
}
probes $K/probes full

# what kubets-proxy reads back after a restart (IpvsBackend: ipvsadm-save -n)
echo "KVM: BEGIN ipvsadm-save -n"
sh /usr/sbin/ipvsadm-save -n
echo "KVM: END ipvsadm-save -n"

echo "KVM: BEGIN ipvsadm -Lnc"
ipvsadm -Lnc
echo "KVM: END ipvsadm -Lnc"

# an incremental change, applied the way IpvsBackend does (ipvsadm -R: no -C first)
if [ -s $K/ipvs-diff ]; then
  ipvsadm -R < $K/ipvs-diff
  echo "KVM: diff-exit $?"
  echo "KVM: BEGIN ipvsadm -Ln after diff"
  ipvsadm -Ln
  echo "KVM: END ipvsadm -Ln after diff"
  probes $K/probes-diff diff
fi
echo "KVM: DONE"
poweroff -f
