package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// mountQuota makes dir a tmpfs of [Config.WorkspaceSize] owned by uid,
// unless it is one already (a workspace adopted after a restart) or no
// quota is configured. Anything already in dir stays hidden under the
// mount; Prepare runs before files are written.
func (l *Local) mountQuota(dir string, uid int) error {
	if l.cfg.WorkspaceSize == 0 {
		return nil
	}
	if !l.switchCred {
		return fmt.Errorf("%w: a workspace size limit needs root", ErrUnavailable)
	}
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		return err
	}
	opts := fmt.Sprintf("size=%d,mode=0700,uid=%d,gid=%d", l.cfg.WorkspaceSize, uid, l.gid)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("sandbox: workspace quota (tmpfs %s): %w", dir, err)
	}
	return nil
}

// unmountQuota removes a workspace's tmpfs (no-op when dir is not a
// mount point). The workspace's commands must be gone.
func unmountQuota(dir string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || !mounted {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the workspace quota: %w", err)
	}
	return nil
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return false, &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if err := syscall.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, &os.PathError{Op: "lstat", Path: filepath.Dir(dir), Err: err}
	}
	return st.Dev != parent.Dev, nil
}
