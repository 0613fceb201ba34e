# Packer alternative to bake_worker_image.yml: the same image, built by
# Packer's amazon-ebs builder and provisioned with the same playbook
# (configure_worker_image.yml), so either tool gives the same worker.
#
#   cargo build --release -p rdapfleet-worker
#   cd ansible/packer
#   packer init worker.pkr.hcl
#   packer build -var subnet_id=subnet-... worker.pkr.hcl
#
# Not run in CI (no AWS there); ansible-lint and --syntax-check cover the
# playbook it runs.

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = ">= 1.1.0"
    }
  }
}

variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "AWS region of the fleet."
}

variable "project" {
  type        = string
  default     = "rdapfleet"
  description = "Value of the Project tag."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet of the builder (with public addresses); empty = the default VPC."
}

variable "instance_type" {
  type        = string
  default     = "t3.small"
  description = "Builder instance type (x86_64, like the fleet)."
}

variable "binary_dir" {
  type        = string
  default     = ""
  description = "Folder holding the release rdapfleet-worker binary; empty = <repo>/target/release."
}

locals {
  stamp      = formatdate("YYYYMMDD'T'hhmmss'Z'", timestamp())
  image_name = "${var.project}-worker-${local.stamp}"
  binary_dir = var.binary_dir != "" ? var.binary_dir : "${path.root}/../../target/release"
}

source "amazon-ebs" "worker" {
  region                      = var.region
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id != "" ? var.subnet_id : null
  associate_public_ip_address = true
  ssh_username                = "ubuntu"
  ami_name                    = local.image_name
  ami_description             = "rdapfleet worker (rdapfleet-worker, Redis replica, first-boot configuration from user data)"
  imds_support                = "v2.0"

  source_ami_filter {
    filters = {
      name                  = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
      architecture          = "x86_64"
      "virtualization-type" = "hvm"
      "root-device-type"    = "ebs"
    }
    owners      = ["099720109477"]
    most_recent = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  run_tags = {
    Project = var.project
    Role    = "image-builder"
  }

  tags = {
    Project = var.project
    Role    = "worker-image"
    Name    = local.image_name
  }
}

build {
  sources = ["source.amazon-ebs.worker"]

  provisioner "shell" {
    inline = ["cloud-init status --wait"]
  }

  provisioner "ansible" {
    playbook_file = "${path.root}/../configure_worker_image.yml"
    groups        = ["builder"]
    user          = "ubuntu"
    use_proxy     = false
    extra_arguments = [
      "--extra-vars", "rdapfleet_binary_dir=${local.binary_dir}",
    ]
    ansible_env_vars = [
      "ANSIBLE_CONFIG=${path.root}/../ansible.cfg",
      "ANSIBLE_ROLES_PATH=${path.root}/../roles",
    ]
  }

  post-processor "manifest" {
    output     = "${path.root}/packer-manifest.json"
    strip_path = true
  }
}
